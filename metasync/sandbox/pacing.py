"""What budgets let an ad set spend, and when a day's conversions become visible: the sandbox's
own reading of Meta's pages (it imports nothing of metasync's optimizer).

**Budgets** (Meta Business Help Center, "About daily budgets"; Marketing API, "Ad set budget
sharing"): a daily budget is what an ad set (or a campaign holding the budget) spends *on
average*: on a day with better opportunities up to 75 % more, and in a calendar week (Sunday to
Saturday) at most 7 x the daily budget. With ad set budget sharing (the campaign's
``is_adset_budget_sharing_enabled``, v24) an ad set may also spend up to 20 % of its budget more,
taken from its siblings: its day is capped at ``(budget + 20 %) x 1.75`` and its week at
``(budget + 20 %) x 7``. The model: the day's allowance is ``budget x m`` with ``m`` an
opportunity multiplier from 0.75 to 1.75 drawn per budget holder and day (mean 1.08, so a
week with steady demand spends about its 7 x), never above 1.75 x the budget nor above what the
week has left; when the ads' demand (their generated spend) is above the allowance every ad's
counts are scaled down by the same factor. Campaigns and ad sets with a lifetime budget or none
are not capped.

**Conversion lag** (Meta Business Help Center, "About attribution settings"; Marketing API,
insights: data "can change for up to 28 days"): a conversion is reported on the day of the
click or view that led to it, and arrives later. The sandbox draws each conversion's delay from
a lag profile (55, 75, 85, 90, 94, 97 and 100 % visible 0, 1, ..., 6 days after the day ended)
within the ad set's attribution window (nothing arrives after the window: a 1-day click window
is complete a day later); a read shows the conversions that have arrived by then, and later
reads restate the day upward. Drawn per ad and day from the seed, so any read at the same
moment gives the same numbers.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from metasync.sandbox.shapes import attribution_spec

if TYPE_CHECKING:
    from metasync.sandbox.world import World

__all__ = [
    "LAG_PROFILE",
    "ZERO_DECIMAL",
    "budget_factor",
    "hundredths_per_step",
    "visible_conversions",
]

DAY_FLEXIBILITY = 1.75
WEEK_DAYS = 7
SHARED = 0.2
LOWEST_OPPORTUNITY = 0.75
LAG_PROFILE = (0.55, 0.75, 0.85, 0.90, 0.94, 0.97, 1.0)  # share visible n days after the day
# currencies Meta gives an offset of 1 (no minor unit: amounts are whole units), from Meta's
# Marketing API page "Currency codes" (developers.facebook.com/docs/marketing-api/currencies)
ZERO_DECIMAL = frozenset(
    {"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND"}
)


def hundredths_per_step(currency: str) -> int:
    """The smallest amount of ``currency`` Meta reports, in hundredths of its major unit (the
    unit the sandbox counts money in): 100 for a currency without a minor unit (whole yen),
    1 for the others (a cent)."""
    return 100 if currency in ZERO_DECIMAL else 1


def _holder(world: World, ad: dict[str, Any]) -> dict[str, Any] | None:
    """Who holds the ad's daily budget: its ad set, or its campaign, or nobody."""
    for table, key in ((world.adsets, "adset_id"), (world.campaigns, "campaign_id")):
        holder = table.get(ad[key])
        if holder is not None and holder.get("daily_budget") not in (None, "", "0"):
            return holder
    return None


def _budget(world: World, holder: dict[str, Any], day: date) -> float:
    """The holder's daily budget in force at noon of ``day`` (account currency, major)."""
    zone = ZoneInfo(world.accounts[holder["account_id"]]["timezone_name"])
    noon = datetime.combine(day, time(12), zone)
    history = sorted(world.changes.budgets.get(holder["id"], []))
    minor = world.changes.initial_budgets.get(holder["id"], int(holder["daily_budget"]))
    for at, budget in history:
        if at <= noon:
            minor = budget
    currency = world.accounts[holder["account_id"]]["currency"]
    return float(minor) if currency in ZERO_DECIMAL else minor / 100


def _sharing(world: World, holder: dict[str, Any]) -> bool:
    campaign = world.campaigns.get(holder.get("campaign_id", ""))
    return bool(campaign and campaign.get("is_adset_budget_sharing_enabled"))


def _opportunity(world: World, holder_id: str, day: date) -> float:
    digest = hashlib.sha256(f"{world.seed}:opportunity:{holder_id}:{day}".encode()).digest()
    draw = random.Random(digest).random()
    return LOWEST_OPPORTUNITY + draw * draw * (DAY_FLEXIBILITY - LOWEST_OPPORTUNITY)


def budget_factor(
    world: World, ad_id: str, day: date, demand_of: Callable[[str, date], Decimal]
) -> float:
    """The factor on the ad's counts for ``day`` that keeps its budget holder within the day's
    and the week's caps (1.0: not capped); ``demand_of(ad, day)`` is an ad's spend before it."""
    holder = _holder(world, world.ads[ad_id])
    if holder is None:
        return 1.0
    return _spent(world, holder, day, demand_of)[1]


def _members(world: World, holder_id: str) -> list[str]:
    """The ads under a budget holder (indexed once per world: ads never change parents)."""
    index = world.changes.members
    if not index:
        for ad in world.ads.values():
            index.setdefault(ad["adset_id"], []).append(ad["id"])
            index.setdefault(ad["campaign_id"], []).append(ad["id"])
    return index.get(holder_id, [])


def _spent(
    world: World, holder: dict[str, Any], day: date, demand_of: Callable[[str, date], Decimal]
) -> tuple[float, float]:
    """(what the holder spent on ``day``, the factor its demand was scaled by), each holder-day
    computed once per state of the world's changes."""
    key = (holder["id"], day, world.changes.version)
    cached = world.changes.caps.get(key)
    if cached is not None:
        return cached
    demand = float(sum((demand_of(a, day) for a in _members(world, holder["id"])), Decimal(0)))
    average = _budget(world, holder, day) * ((1 + SHARED) if _sharing(world, holder) else 1.0)
    week_start = day - timedelta(days=(day.weekday() + 1) % 7)  # weeks start on Sunday
    before = sum(
        _spent(world, holder, week_start + timedelta(days=n), demand_of)[0]
        for n in range((day - week_start).days)
    )
    allowance = min(
        average * _opportunity(world, holder["id"], day),
        average * DAY_FLEXIBILITY,
        max(0.0, average * WEEK_DAYS - before),
    )
    factor = 1.0 if demand <= allowance else allowance / demand
    world.changes.caps[key] = (demand * factor, factor)
    return demand * factor, factor


def visible_conversions(world: World, ad_id: str, day: date, final: int) -> int:
    """How many of the ad's ``final`` conversions of ``day`` have arrived by now."""
    account = world.ads[ad_id]["account_id"]
    after = (world.account_today(account) - day).days - 1  # days since the day ended
    window = max(int(w["window_days"]) for w in attribution_spec(world.ads[ad_id]["adset_id"]))
    if final == 0 or after >= min(window, len(LAG_PROFILE) - 1):
        return final
    share = LAG_PROFILE[max(after, 0)]
    digest = hashlib.sha256(f"{world.seed}:lag:{ad_id}:{day}".encode()).digest()
    rng = random.Random(digest)
    return sum(1 for _ in range(final) if rng.random() < share)
