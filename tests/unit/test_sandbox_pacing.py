"""The sandbox spends as Meta's "About daily budgets" says: a budget holder's day at most 1.75 x
its daily budget, its calendar week at most 7 x (with ad set budget sharing, of the budget plus
20 %), and it does spend its budget when demand is there; legacy Advantage+ campaigns refuse
updates."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from metasync.sandbox.errors import GraphError
from metasync.sandbox.metrics import ad_day
from metasync.sandbox.mutations import mutate
from metasync.sandbox.world import World, WorldSize, generate_world
from metasync.sandbox.writes_api import write

SIZE = WorldSize(
    users=1, accounts_per_user=2, campaigns_per_account=6, adsets_per_campaign=3,
    ads_per_adset=4, days=28,
)  # fmt: skip
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


def _spend_by_holder(world: World) -> dict[str, dict[date, Decimal]]:
    spent: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for ad in world.ads.values():
        adset = world.adsets[ad["adset_id"]]
        holder = adset if adset.get("daily_budget") else world.campaigns[ad["campaign_id"]]
        today = world.account_today(ad["account_id"])
        for back in range(1, SIZE.days):
            day = today - timedelta(days=back)
            counts = ad_day(world, ad["id"], day)
            if counts is not None:
                spent[holder["id"]][day] += counts["spend"]
    return spent


def _average(world: World, holder_id: str) -> Decimal:
    holder = world.adsets.get(holder_id) or world.campaigns[holder_id]
    currency = world.accounts[holder["account_id"]]["currency"]
    budget = Decimal(holder["daily_budget"]) / (1 if currency == "JPY" else 100)
    campaign = world.campaigns.get(holder.get("campaign_id", ""))
    shares = bool(campaign and campaign.get("is_adset_budget_sharing_enabled"))
    return budget * (Decimal("1.2") if shares else 1)


def test_days_and_weeks_stay_within_metas_caps_and_budgets_are_spent() -> None:
    world = generate_world(11, SIZE, now=NOW)
    spent = _spend_by_holder(world)
    assert spent, "the world delivers"
    full_days = 0
    for holder_id, by_day in spent.items():
        average = _average(world, holder_id)
        weeks: dict[date, Decimal] = defaultdict(Decimal)
        for day, amount in by_day.items():
            assert amount <= average * Decimal("1.75") + Decimal("0.05"), (holder_id, day)
            weeks[day - timedelta(days=(day.weekday() + 1) % 7)] += amount
            full_days += amount >= average * Decimal("0.75")
        for week, amount in weeks.items():
            assert amount <= average * 7 + Decimal("0.5"), (holder_id, week, amount)
    assert full_days > len(spent) * 5, "demand above the budget: budgets are spent, not idle"


def test_legacy_advantage_campaigns_refuse_updates() -> None:
    world = generate_world(11, SIZE, now=NOW)
    adset = next(s for s in world.adsets.values() if s["status"] == "ACTIVE")
    campaign = world.campaigns[adset["campaign_id"]]
    assert campaign["smart_promotion_type"] == "GUIDED_CREATION"
    scopes = frozenset({"ads_management", "ads_read"})
    write(world, scopes, "adset", adset, {"name": "renamed"})
    campaign["smart_promotion_type"] = "AUTOMATED_SHOPPING_ADS"
    with pytest.raises(GraphError, match="legacy Advantage\\+ shopping and app campaigns"):
        write(world, scopes, "adset", adset, {"name": "again"})
    assert adset["name"] == "renamed"


def test_a_purged_ad_leaves_its_siblings_readable() -> None:
    world = generate_world(11, SIZE, now=NOW)
    ad = next(a for a in world.ads.values() if a["status"] == "ACTIVE")
    sibling = next(a for a in world.ads.values() if a["adset_id"] == ad["adset_id"] and a is not ad)
    yesterday = world.account_today(ad["account_id"]) - timedelta(days=1)
    ad_day(world, sibling["id"], yesterday)  # the caps are computed with both
    mutate(world, ad["id"], "purge")
    for back in range(1, 10):
        ad_day(world, sibling["id"], yesterday - timedelta(days=back))  # no KeyError
