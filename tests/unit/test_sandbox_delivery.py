"""The sandbox's delivery follows later changes: pauses cut a day short and stop the days after,
budgets scale delivery, performance profiles fix an ad's rates; nothing before a change moves."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from metasync.sandbox.metrics import ad_day
from metasync.sandbox.mutations import MutationError, add_today, mutate
from metasync.sandbox.world import World, WorldSize, generate_world

SIZE = WorldSize(
    users=1, accounts_per_user=1, campaigns_per_account=8, adsets_per_campaign=3, ads_per_adset=3
)
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


def _world() -> World:
    """A world whose budgets are far above its ads' demand, so Meta's caps never bind and what
    is tested is delivery's own scaling (the caps: tests/unit/test_sandbox_pacing.py)."""
    world = generate_world(7, SIZE, now=NOW)
    for holder in (*world.campaigns.values(), *world.adsets.values()):
        if holder.get("daily_budget"):
            holder["daily_budget"] = str(int(holder["daily_budget"]) * 1000)
    add_today(world)
    return world


def _delivering(world: World, day: date) -> dict[str, Any]:
    """An active ad (of an ad set with its own daily budget) that delivers on ``day``."""
    for ad in world.ads.values():
        adset = world.adsets[ad["adset_id"]]
        if (
            ad["status"] == "ACTIVE"
            and adset.get("daily_budget")
            and ad_day(world, ad["id"], day) is not None
        ):
            return ad
    raise AssertionError("the world has no delivering ad of an ad set with a budget")


def _local(world: World, ad: dict[str, Any], day: date, hour: int) -> datetime:
    zone = ZoneInfo(world.accounts[ad["account_id"]]["timezone_name"])
    return datetime.combine(day, time(hour), zone)


def _impressions(world: World, ad_id: str, day: date) -> int:
    counts = ad_day(world, ad_id, day)
    return 0 if counts is None else int(counts["impressions"])


def test_a_pause_cuts_its_day_short_and_an_activation_resumes() -> None:
    world = _world()
    ad = _delivering(world, world.account_today(world.ads[next(iter(world.ads))]["account_id"]))
    today = world.account_today(ad["account_id"])
    yesterday = today - timedelta(days=1)
    full, before = _impressions(world, ad["id"], today), _impressions(world, ad["id"], yesterday)
    mutate(world, ad["id"], "pause", now=_local(world, ad, today, 6))
    assert _impressions(world, ad["id"], today) == int(full * 0.25), "6 of 24 hours"
    assert _impressions(world, ad["id"], yesterday) == before, "a day before the pause moved"
    mutate(world, ad["id"], "activate", now=_local(world, ad, today, 18))
    assert _impressions(world, ad["id"], today) == int(full * 0.5), "00-06 and 18-24"


def test_a_paused_ad_set_stops_its_ads_and_a_budget_scales_them() -> None:
    world = _world()
    ad = _delivering(world, world.account_today(next(iter(world.accounts))))
    today = world.account_today(ad["account_id"])
    adset = world.adsets[ad["adset_id"]]
    full = ad_day(world, ad["id"], today)
    assert full is not None
    budget = int(adset["daily_budget"])
    mutate(
        world,
        adset["id"],
        "update",
        {"daily_budget": str(budget * 3 // 2)},
        now=_local(world, ad, today, 1),
    )
    raised = ad_day(world, ad["id"], today)
    assert raised is not None
    assert raised["impressions"] == int(full["impressions"] * (budget * 3 // 2) / budget)
    assert raised["spend"] > full["spend"]
    mutate(world, adset["id"], "pause", now=_local(world, ad, today, 0))
    assert ad_day(world, ad["id"], today) is None, "an ad set paused all day delivers nothing"


def test_a_performance_profile_fixes_an_ads_rates() -> None:
    world = _world()
    ad = _delivering(world, world.account_today(next(iter(world.accounts))))
    today = world.account_today(ad["account_id"])
    rates = {"cpm": 10, "ctr": 0.02, "purchase_rate": 0.1, "order_value": 50, "frequency": 4}
    mutate(world, ad["id"], "performance", rates)
    for day in (today - timedelta(days=offset) for offset in range(8, 13)):  # matured days
        counts = ad_day(world, ad["id"], day)
        if counts is None:
            continue  # the generated world's days without delivery stay so
        impressions = counts["impressions"]
        assert counts["spend"] == (Decimal(impressions) * 10 / 1000).quantize(Decimal("0.01"))
        assert counts["clicks"] == int(impressions * 0.02)
        purchases = int(counts["clicks"] * 0.1)
        assert counts["actions"]["purchase"] == purchases
        assert counts["action_values"]["purchase"] == Decimal(purchases * 50)
        assert counts["reach"] == int(impressions / 4)
    mutate(world, ad["id"], "performance", {"ctr_decay": 0.5})
    early = ad_day(world, ad["id"], today - timedelta(days=20))
    if early is not None:
        assert early["clicks"] == int(early["impressions"] * 0.02), "decay before its 14 days"
    late = ad_day(world, ad["id"], today)
    assert late is not None and late["clicks"] == int(late["impressions"] * 0.02 * 0.5**14)


def test_learning_and_profiles_are_checked_and_not_logged() -> None:
    world = _world()
    adset = next(a for a in world.adsets.values() if a["effective_status"] == "ACTIVE")
    logged = len(world.library.activities)
    mutate(world, adset["id"], "learning", {"status": "FAIL", "since": 1_700_000_000})
    assert adset["learning_stage_info"]["status"] == "FAIL"
    assert adset["learning_stage_info"]["last_sig_edit_ts"] == 1_700_000_000
    assert len(world.library.activities) == logged, "Meta's own signals are not activities"
    with pytest.raises(MutationError, match="one of LEARNING, SUCCESS, FAIL"):
        mutate(world, adset["id"], "learning", {"status": "DONE"})
    ad = next(iter(world.ads))
    with pytest.raises(MutationError, match="unknown rate 'cpc'"):
        mutate(world, ad, "performance", {"cpc": 1.0})
    with pytest.raises(MutationError, match=r"rate ctr must be a number from 0\.0 to 1\.0"):
        mutate(world, ad, "performance", {"ctr": 3})
    with pytest.raises(MutationError, match="profiles are set on ads"):
        mutate(world, adset["id"], "performance", {"ctr": 0.1})


def test_conversions_arrive_late_and_later_reads_restate_them() -> None:
    world = _world()
    ad = _delivering(world, world.account_today(next(iter(world.accounts))))
    mutate(world, ad["id"], "performance", {"ctr": 0.05, "purchase_rate": 0.2})
    yesterday = world.account_today(ad["account_id"]) - timedelta(days=1)
    counts = ad_day(world, ad["id"], yesterday)
    assert counts is not None
    final = int(counts["clicks"] * 0.2)
    seen = counts["actions"]["purchase"]
    assert 0 < seen < final, "about 55 % of yesterday's conversions have arrived"
    readings = []
    for _ in range(8):  # read again each day after: never fewer, and complete within the window
        world.now += timedelta(days=1)
        later = ad_day(world, ad["id"], yesterday)
        assert later is not None and later["clicks"] == counts["clicks"]
        readings.append(later["actions"]["purchase"])
    assert readings == sorted(readings) and readings[0] >= seen and readings[-1] == final
