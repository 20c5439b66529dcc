"""The rate governor's budgets as Meta counts them: per ad account and use case, sized by the
tier's formula and the account's active ads, corrected by Meta's own percentage."""

from __future__ import annotations

import json

import pytest
import redis

from metasync.graph import RateLimitError
from metasync.graph.usage import parse_usage_headers
from metasync.ratelimit import RateGovernor
from tests.support.governor import governor


def test_an_account_budget_grows_with_its_active_ads(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    """Meta's formula, limited tier: ads_management 300 + 40 x active ads, ads_insights
    600 + 400 x active ads, of which the governor uses 95 %."""
    gov = governor(redis_client, redis_prefix)
    assert gov.acquire("c", account_id="7").budget == 285
    gov.set_active_ads({"7": 10})
    assert gov.acquire("c", account_id="7").budget == 665
    assert gov.acquire("c", account_id="7", use_case="ads_insights").budget == 4370
    assert gov.acquire("c", account_id="8").budget == 285  # another account: its own size
    full = governor(redis_client, redis_prefix, tier="full")  # type: ignore[arg-type]
    assert full.acquire("c", account_id="7", use_case="ads_insights").budget == 184_300


def test_an_unknown_tier_is_refused_with_its_name(redis_client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="tier 'standard'"):
        RateGovernor(redis_client, tier="standard")


def test_meta_percentage_wins_over_the_own_count(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    """Meta counts calls we cannot see (another process of the app, Meta's own view of a
    retried call): its percentage stands in for our count, both up and down. (No pacing
    here, to see the count alone.)"""
    gov = governor(redis_client, redis_prefix, slowdown_pct=100)

    def header(pct: float, kind: str = "ads_insights") -> None:
        entry = {"type": kind, "call_count": pct, "total_cputime": 1, "total_time": 1}
        usage = parse_usage_headers({"X-Business-Use-Case-Usage": json.dumps({"7": [entry]})})
        gov.record_usage(usage, connection_id="c", account_id="7")

    header(99.5)  # 568 of 570 by Meta's count (rounded up): two more calls fit
    answers = [gov.acquire("c", account_id="7", use_case="ads_insights") for _ in range(3)]
    assert [a.allowed for a in answers] == [True, True, False]
    refused = answers[-1]
    assert refused.used == 570 and refused.reason == "rl:acct:7:ads_insights"
    assert 59 < refused.wait_seconds <= 60
    assert gov.acquire("c", account_id="7").allowed  # management is another budget
    for _ in range(284):
        gov.acquire("c", account_id="7")
    assert not gov.acquire("c", account_id="7").allowed  # our own count: 285 of 285
    header(10.0, "ads_management")
    assert gov.acquire("c", account_id="7").allowed  # Meta says 10 %: it wins


def test_a_use_case_throttle_blocks_that_use_case_only(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    """(#80000) is the insights budget of the account: its object reads carry on."""
    from metasync.graph import error_from_response

    gov = governor(redis_client, redis_prefix)
    entries = [{"type": "ads_insights", "call_count": 100, "estimated_time_to_regain_access": 3}]
    headers = {"X-Business-Use-Case-Usage": json.dumps({"7": entries})}
    body = {"error": {"code": 80000, "message": "(#80000) There have been too many calls"}}
    error = error_from_response(400, body, headers)
    assert isinstance(error, RateLimitError) and error.use_case == "ads_insights"
    assert error.retry_after == 180
    gov.block_for_error(error, connection_id="c", account_id="7")
    refused = gov.acquire("c", account_id="7", use_case="ads_insights")
    assert not refused.allowed and refused.reason == "rl:blocked:business:7:ads_insights"
    assert gov.acquire("c", account_id="7", use_case="ads_management").allowed
    assert gov.acquire("c", account_id="8", use_case="ads_insights").allowed
