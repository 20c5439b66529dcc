"""The sandbox's generated accounts look like real ones: every breakdown row's action values
belong to actions the row has, and an account in a currency without a minor unit (JPY) spends
and earns whole units in every row, breakdown rows still summing to the unbroken day."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from tests.integration.sandbox.test_breakdowns import read_all, window
from tests.support.sandbox import Sandbox

BREAKDOWNS = ("age,gender", "country", "publisher_platform,platform_position")
FIELDS = "ad_id,impressions,spend,actions,action_values"


def _accounts(sandbox: Sandbox) -> dict[str, tuple[str, str]]:
    """Every account of the sandbox's users: id -> (its currency, a token that reads it)."""
    out = {}
    for user in sandbox.info["users"]:
        for account in user["ad_account_ids"]:
            answer = sandbox.get(account, token=user["token"], fields="currency")
            assert answer.status_code == 200, answer.text
            out[account] = (answer.json()["currency"], user["token"])
    return out


def _by_type(entries: list[dict[str, str]], window_name: str = "value") -> dict[str, Decimal]:
    return {e["action_type"]: Decimal(e[window_name]) for e in entries if window_name in e}


def test_no_breakdown_row_has_a_value_without_its_action(sandbox: Sandbox) -> None:
    """A row with purchase revenue has purchases (in the setting's value and every window)."""
    checked = 0
    for account, (_, token) in _accounts(sandbox).items():
        for breakdowns in BREAKDOWNS[:2]:  # the two the demo showed wrong: enough rows
            rows = read_all(
                sandbox,
                account,
                token=token,
                level="ad",
                time_increment=1,
                fields=FIELDS,
                breakdowns=breakdowns,
                action_attribution_windows='["1d_click","7d_click","1d_view"]',
                **window(sandbox, account),
            )
            for row in rows:
                for window_name in ("value", "1d_click", "7d_click", "1d_view"):
                    counts = _by_type(row.get("actions", []), window_name)
                    for action_type, value in _by_type(
                        row.get("action_values", []), window_name
                    ).items():
                        checked += value > 0
                        assert value == 0 or counts.get(action_type, 0) > 0, (
                            breakdowns,
                            window_name,
                            action_type,
                            row,
                        )
    assert checked > 1000  # the property was tested on many rows with revenue


def test_whole_yen_in_every_row_and_breakdowns_sum_to_the_day(sandbox: Sandbox) -> None:
    yen = [(a, token) for a, (currency, token) in _accounts(sandbox).items() if currency == "JPY"]
    assert yen, "the sandbox world has a JPY account"
    account, token = yen[0]
    common = {
        "level": "ad",
        "time_increment": 1,
        "fields": FIELDS,
        "token": token,
        **window(sandbox, account),
    }
    whole = {(r["ad_id"], r["date_start"]): r for r in read_all(sandbox, account, **common)}
    assert whole
    for breakdowns in ("", *BREAKDOWNS):
        params: dict[str, Any] = {**common, "breakdowns": breakdowns} if breakdowns else common
        rows = read_all(sandbox, account, **params)
        sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for row in rows:
            spend = Decimal(row["spend"])
            assert spend == spend.to_integral_value(), (breakdowns, row["spend"])
            for entry in row.get("action_values", []):
                value = Decimal(entry["value"])
                assert value == value.to_integral_value(), (breakdowns, entry)
            sums[(row["ad_id"], row["date_start"])] += spend
        for key, row in whole.items():
            assert sums[key] == Decimal(row["spend"]), (breakdowns, key)


def test_cents_remain_for_currencies_with_a_minor_unit(sandbox: Sandbox) -> None:
    """Whole units are for zero-decimal currencies only: a USD account spends cents."""
    account, token = next(
        (a, token) for a, (currency, token) in _accounts(sandbox).items() if currency == "USD"
    )
    rows = read_all(
        sandbox,
        account,
        token=token,
        level="ad",
        time_increment=1,
        fields=FIELDS,
        **window(sandbox, account),
    )
    assert any(Decimal(r["spend"]) != Decimal(r["spend"]).to_integral_value() for r in rows)
