"""How an ad's delivery follows what is changed after the world was generated.

The generated world fixes each ad's delivery window and its numbers for every day
(:mod:`metasync.sandbox.metrics`). Changes made later (through ``POST /{id}`` or the control API)
act on the days they touch, as they would at Meta:

- **Status.** An ad delivers only while it, its ad set and its campaign are all ``ACTIVE`` by
  their own status (Meta Business Help Center, "Pause or turn off your ad": a paused ad stops
  delivering, and accruing charges, from the moment it is paused). A day's counts are scaled
  by the share of the day (in the account's time zone) during which all three were active: an
  ad paused at 10:00 delivers 10/24 of that day, and nothing on the days after, until it is
  activated again (activation resumes delivery only within the ad's generated window).
- **Budget.** A day's demand is scaled by the daily budget in force at noon of that day over
  the budget the world was generated with (the ad set's, or its campaign's when the campaign
  holds the budget): raising a budget by 20 % raises later demand by 20 % (a larger budget
  bids into more auctions). Then Meta's caps bound what is spent (:mod:`metasync.sandbox.pacing`:
  a day at most 1.75 x the budget, a calendar week at most 7 x it, "About daily budgets").
- **Performance profiles** (control API only, for tests and demos): an ad's rates can be fixed
  (``cpm``, ``ctr``, ``purchase_rate``, ``order_value``, ``frequency``) and its click-through
  rate made to decay by ``ctr_decay`` a day over the account's last 14 days (creative fatigue),
  so a scenario (an expensive ad, a fatigued creative, a winning ad set) is built on the world
  rather than planted in a mirror.

Nothing here changes a day before the change was made: changes happen at the wall clock's now,
after the world's reference instant, so complete days (yesterday and before) never move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from metasync.sandbox.world import World

__all__ = [
    "PROFILE_RATES",
    "DeliveryChanges",
    "decayed_ctr",
    "delivery_scale",
    "record_budget",
    "record_status",
    "set_profile",
]

PROFILE_RATES = {  # name -> (smallest, largest) accepted
    "cpm": (0.01, 1000.0),  # account currency, major units per 1,000 impressions
    "ctr": (0.0, 1.0),  # clicks per impression
    "purchase_rate": (0.0, 1.0),  # purchases per click
    "order_value": (0.0, 100_000.0),  # account currency, major units per purchase
    "frequency": (1.0, 50.0),  # impressions per person reached on a day
    "ctr_decay": (0.01, 1.0),  # factor on the click-through rate per day, last 14 days
}
DECAY_DAYS = 14
DAY_SECONDS = 86_400


@dataclass
class DeliveryChanges:
    """What changed after generation: per object, ``(when, active)`` of its own status and
    ``(when, daily budget in minor units)``; the budgets it was generated with; ads'
    performance profiles."""

    running: dict[str, list[tuple[datetime, bool]]] = field(default_factory=dict)
    budgets: dict[str, list[tuple[datetime, int]]] = field(default_factory=dict)
    initial_budgets: dict[str, int] = field(default_factory=dict)
    profiles: dict[str, dict[str, float]] = field(default_factory=dict)
    version: int = 0  # moves with every change, so cached rows are computed again
    # (spent, cap factor) by (budget holder, day, version) (metasync.sandbox.pacing)
    caps: dict[tuple[str, date, int], tuple[float, float]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)  # ads by ad set and campaign


def record_status(world: World, object_id: str, status: str, at: datetime) -> None:
    """Note that ``object_id``'s own status became ``status`` at ``at``."""
    world.changes.running.setdefault(object_id, []).append((at, status == "ACTIVE"))
    world.changes.version += 1


def record_budget(world: World, obj: dict[str, Any], budget: Any, at: datetime) -> None:
    """Note a new daily budget (minor units) of a campaign or ad set."""
    if obj.get("daily_budget") in (None, "", "0"):
        return  # it had none (a lifetime budget, or the budget lives elsewhere)
    world.changes.initial_budgets.setdefault(obj["id"], int(obj["daily_budget"]))
    world.changes.budgets.setdefault(obj["id"], []).append((at, int(budget)))
    world.changes.version += 1


def set_profile(world: World, ad_id: str, rates: dict[str, Any]) -> dict[str, float]:
    """Fix some of an ad's rates (see :data:`PROFILE_RATES`); returns its whole profile."""
    if ad_id not in world.ads:
        raise ValueError(f"performance profiles are set on ads; {ad_id} is not an ad")
    profile = world.changes.profiles.setdefault(ad_id, {})
    for name, value in rates.items():
        if name not in PROFILE_RATES:
            raise ValueError(f"unknown rate {name!r}; expected some of {', '.join(PROFILE_RATES)}")
        low, high = PROFILE_RATES[name]
        if not isinstance(value, int | float) or not low <= float(value) <= high:
            raise ValueError(f"rate {name} must be a number from {low} to {high}, not {value!r}")
        profile[name] = float(value)
    world.changes.version += 1
    return dict(profile)


def _running_share(timelines: list[list[tuple[datetime, bool]]], start: datetime) -> float:
    """The share of the day from ``start`` during which every timeline was active."""
    end = start + timedelta(days=1)
    active = [True] * len(timelines)
    events = sorted((at, index, on) for index, line in enumerate(timelines) for at, on in line)
    running, cursor = 0.0, start
    for at, index, on in events:
        if at >= end:
            break
        if at > start:
            if all(active):
                running += (at - cursor).total_seconds()
            cursor = at
        active[index] = on
    if all(active):
        running += (end - cursor).total_seconds()
    return running / DAY_SECONDS


def _budget_factor(world: World, chain: tuple[str, ...], moment: datetime) -> float:
    factor = 1.0
    for object_id in chain:
        history = world.changes.budgets.get(object_id)
        if not history:
            continue
        initial = world.changes.initial_budgets[object_id]
        current = initial
        for at, budget in sorted(history):
            if at <= moment:
                current = budget
        factor *= current / initial
    return factor


def delivery_scale(world: World, ad_id: str, day: date, running: bool = True) -> float:
    """The factor on the ad's generated counts for ``day``: 1.0 when nothing changed, 0 when
    it did not deliver at all. ``running=False``: the budgets' part alone (the ad's demand,
    whatever pauses did to it)."""
    changes = world.changes
    if not changes.running and not changes.budgets:
        return 1.0
    ad = world.ads[ad_id]
    chain = (ad_id, ad["adset_id"], ad["campaign_id"])
    if not any(i in changes.running or i in changes.budgets for i in chain):
        return 1.0
    zone = ZoneInfo(world.accounts[ad["account_id"]]["timezone_name"])
    start = datetime.combine(day, time(), zone)
    share = _running_share([changes.running.get(i, []) for i in chain], start) if running else 1.0
    return share * _budget_factor(world, chain, start + timedelta(hours=12))


def decayed_ctr(world: World, ad_id: str, day: date, ctr: float) -> float:
    """``ctr`` after the ad's ``ctr_decay`` for ``day`` (1.0 before the account's last 14
    days, ``decay ** n`` on the n-th of them)."""
    decay = world.changes.profiles.get(ad_id, {}).get("ctr_decay")
    if decay is None:
        return ctr
    first = world.account_today(world.ads[ad_id]["account_id"]) - timedelta(days=DECAY_DAYS)
    return ctr * decay ** max(0, (day - first).days)
