"""``comscore_market_code``: a breakdown of the ``comscore`` feature (Meta's page "Feature
Settings API", 2026-08-07) the sandbox serves, gated like ``comscore_market``, one code per
market, splitting an ad-day the same way."""

from __future__ import annotations

from collections import Counter

from tests.integration.sandbox.test_breakdowns import read_all, window
from tests.support.sandbox import Sandbox


def test_comscore_market_codes_are_served_gated_and_agree_with_the_markets(
    sandbox: Sandbox,
) -> None:
    user = sandbox.user()
    opted = user["opted_in_account_ids"][0]
    other = next(a for a in user["ad_account_ids"] if a not in user["opted_in_account_ids"])
    common = {"level": "ad", "fields": "ad_id,impressions,spend", **window(sandbox, opted)}
    codes = read_all(sandbox, opted, breakdowns="comscore_market_code", **common)
    markets = read_all(sandbox, opted, breakdowns="comscore_market", **common)
    assert codes and all(r["comscore_market_code"].isdigit() for r in codes)
    assert all("comscore_market" not in r for r in codes)  # only the breakdown asked for
    by_code = Counter(
        {(r["ad_id"], r["comscore_market_code"]): int(r["impressions"]) for r in codes}
    )
    by_market = Counter(
        {(r["ad_id"], r["comscore_market"]): int(r["impressions"]) for r in markets}
    )
    assert len({r["comscore_market_code"] for r in codes}) == len(
        {r["comscore_market"] for r in markets}
    )
    assert sorted(by_code.values()) == sorted(by_market.values())  # the same cells, renamed
    whole = read_all(sandbox, opted, **common)
    assert sum(by_code.values()) == sum(int(r["impressions"]) for r in whole)

    # gated by the comscore feature, like comscore_market
    assert (
        read_all(
            sandbox,
            other,
            breakdowns="comscore_market_code",
            **{**common, **window(sandbox, other)},
        )
        == []
    )

    # not listed with comscore_market by Meta: refused as a combination
    both = sandbox.get(
        f"{opted}/insights", breakdowns="comscore_market,comscore_market_code", **common
    )
    assert both.status_code == 400 and both.json()["error"]["code"] == 100
    assert "invalid" in both.json()["error"]["message"]
