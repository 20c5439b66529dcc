"""The sandbox models Meta's 2026 changes that silently empty a sync or refuse a read.

Each test names Meta's page: the Marketing API out-of-cycle changes of 2026 (opt-in breakdowns
from 2026-08-03, DMA retired on 2026-06-22, history limits from 2026-01-12).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from tests.integration.sandbox.test_breakdowns import read_all, window
from tests.support.sandbox import Sandbox

OPT_IN = (
    "impression_device",
    "publisher_platform,platform_position,impression_device",
    "hourly_stats_aggregated_by_audience_time_zone",
    "frequency_value",
)


def _accounts(sandbox: Sandbox) -> tuple[str, str]:
    """(an account opted in to the opt-in breakdowns, one that is not)."""
    user = sandbox.user()
    opted = user["opted_in_account_ids"]
    other = [a for a in user["ad_account_ids"] if a not in opted]
    return opted[0], other[0]


def test_opt_in_breakdowns_return_nothing_for_an_account_that_has_not_opted_in(
    sandbox: Sandbox,
) -> None:
    """2026-08-03: they "may return no results for ad accounts that have not opted in": no
    error, an empty listing, while the same account's other breakdowns answer."""
    opted, not_opted = _accounts(sandbox)
    for account in (opted, not_opted):
        day = sandbox.truth()["windows"][account.removeprefix("act_")][1]
        common = {"level": "ad", "fields": "ad_id,impressions,spend"}
        common["time_range"] = json.dumps({"since": day, "until": day})
        assert read_all(sandbox, account, **common), "the account delivered that day"
        assert read_all(sandbox, account, breakdowns="publisher_platform", **common)
        for breakdowns in OPT_IN:
            rows = read_all(sandbox, account, breakdowns=breakdowns, **common)
            assert bool(rows) is (account == opted), (account, breakdowns)


def test_an_account_opting_in_gets_its_rows(fresh_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = fresh_sandbox()
    _, not_opted = _accounts(sandbox)
    params = {"level": "ad", "fields": "impressions", "breakdowns": "impression_device"}
    assert read_all(sandbox, not_opted, **params, **window(sandbox, not_opted)) == []
    answer = sandbox.control("POST", "opt-in", {"account_id": not_opted, "opted_in": True})
    assert answer["opted_in"] is True
    assert read_all(sandbox, not_opted, **params, **window(sandbox, not_opted))


def test_dma_is_refused_with_meta_reason_and_comscore_markets_answer(sandbox: Sandbox) -> None:
    """2026-06-22: ``breakdowns=dma`` is no longer supported; ``comscore_market`` instead."""
    opted, _ = _accounts(sandbox)
    refused = sandbox.get(
        f"{opted}/insights", level="ad", fields="impressions", breakdowns="dma",
        **window(sandbox, opted),
    )  # fmt: skip
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == 100 and "dma" in error["message"]
    assert "comscore_market" in error["message"] and "2026-06-22" in error["message"]
    common = {"level": "ad", "fields": "ad_id,impressions", **window(sandbox, opted)}
    whole = sum(int(r["impressions"]) for r in read_all(sandbox, opted, **common))
    markets = read_all(sandbox, opted, breakdowns="comscore_market", **common)
    assert {r["comscore_market"] for r in markets} >= {"New York", "Chicago"}
    assert sum(int(r["impressions"]) for r in markets) == whole


def test_history_limits_per_breakdown(sandbox: Sandbox) -> None:
    """2026-01-12: hourly breakdowns 13 months, ``frequency_value`` 6 months (older starts are
    refused: the stricter reading of "not available"); other breakdowns keep 37 months."""
    opted, _ = _accounts(sandbox)
    today = date.today()
    for breakdowns, months in (
        ("hourly_stats_aggregated_by_advertiser_time_zone", 13),
        ("frequency_value", 6),
    ):
        too_old = today - relativedelta(months=months) - timedelta(days=3)
        fine = today - relativedelta(months=months) + timedelta(days=3)
        for since, ok in ((too_old, False), (fine, True)):
            answer = sandbox.get(
                f"{opted}/insights", level="account", fields="impressions",
                breakdowns=breakdowns,
                time_range=json.dumps({"since": since.isoformat(), "until": since.isoformat()}),
            )  # fmt: skip
            assert (answer.status_code == 200) is ok, (breakdowns, since, answer.text)
            if not ok:
                assert f"last {months} months" in answer.json()["error"]["message"]
    old = today - relativedelta(months=20)
    country = sandbox.get(
        f"{opted}/insights", level="account", fields="impressions", breakdowns="country",
        time_range=json.dumps({"since": old.isoformat(), "until": old.isoformat()}),
    )  # fmt: skip
    assert country.status_code == 200
