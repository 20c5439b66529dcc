"""Insights of the sandbox world, computed (not stored) from the seed.

An ad's metrics on a day are a pure function of (seed, ad id, day, the changes made to the
world, and the day of the read, since conversions keep arriving), so any read, by any process,
on the same day gives the same numbers, and the ground truth needs no second copy. Campaign, ad set
and account rows are sums over their ads, with the ratios recomputed from the sums. Numbers are
returned as Meta returns them: strings (``"spend": "53.40"``).

Budgets cap what an ad set spends in a day and a week, and conversions arrive with a lag that
later reads restate (:mod:`metasync.sandbox.pacing`).

Each delivering day has ``actions`` and ``action_values`` with purchases reported twice, as Meta
does (``purchase`` and ``offsite_conversion.fb_pixel_purchase``), the share of them the account's
PURCHASE custom conversion counts (``offsite_conversion.custom.<id>``), and other action types. An
action's count is made of disjoint parts (clicked the same day, 2-7 days after a click, 8-28
days after, 1 day after a view, 1 day after an engaged view); a window's value is the sum of
its parts and ``value`` is the ad set's attribution setting's (Meta applies each ad set's
unified setting since 2025-06-10), so every window is additive across ads, days and breakdown
values. ``7d_view`` and ``28d_view`` return nothing (retired 2026-01-12).

Reach counts people, so it is never summed: a row that covers several ad-days (an ad set's day,
an ad's week) reaches fewer people than the sum of its parts, and at least as many as its largest
part. The overlap is a deterministic function of the row, and ``frequency`` is impressions / reach
at every level. ``attribution_setting`` is the ad set's; a row over ad sets with different
settings says ``mixed``. Breakdowns: :mod:`metasync.sandbox.breakdowns`; video metrics:
:mod:`metasync.sandbox.video`.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from metasync.sandbox.breakdowns import allocate, split_actions_by_device, split_ad_day, unit
from metasync.sandbox.delivery import decayed_ctr, delivery_scale
from metasync.sandbox.library import custom_conversion_share
from metasync.sandbox.pacing import budget_factor, hundredths_per_step, visible_conversions
from metasync.sandbox.rows import InsightsQuery, render_row
from metasync.sandbox.shapes import attribution_setting
from metasync.sandbox.video import is_video_ad, video_counts
from metasync.sandbox.world import World

__all__ = ["LEVEL_KEYS", "InsightsQuery", "ad_day", "days_between", "level_rows", "query_rows"]

LEVEL_KEYS = {
    "account": "account_id",
    "campaign": "campaign_id",
    "adset": "adset_id",
    "ad": "ad_id",
}
CENT = Decimal("0.01")
# one purchase, reported under two types (as Meta does): the same windows for both; a lead
# likewise, as ``lead`` and as where it was made (see _leads)
SAME_EVENT = {
    "offsite_conversion.fb_pixel_purchase": "purchase",
    "onsite_conversion.lead_grouped": "lead",
    "offsite_conversion.fb_pixel_lead": "lead",
}
LEAD_OBJECTIVES = {
    "OUTCOME_LEADS": "onsite_conversion.lead_grouped",
    "OUTCOME_TRAFFIC": "offsite_conversion.fb_pixel_lead",
}
ACTION_TYPES = (
    "link_click",
    "landing_page_view",
    "add_to_cart",
    "purchase",
    "offsite_conversion.fb_pixel_purchase",
)


def days_between(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@dataclass(frozen=True)
class _Draw:
    """An ad-day's generated rates and impressions (before changes and budget caps)."""

    impressions: int
    frequency: float
    ctr: float
    cpm: Decimal
    purchase_rate: float
    order_value: Decimal
    cart_rate: float


def _draw(world: World, ad_id: str, day: date) -> _Draw | None:
    start, end = world.delivery[ad_id]
    account_id = world.ads[ad_id]["account_id"]
    if day < start or (end is not None and day > end) or day > world.last_data_day(account_id):
        return None
    digest = hashlib.sha256(f"{world.seed}:{ad_id}:{day.isoformat()}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    if rng.random() < 0.08:
        return None  # a day without delivery
    impressions = rng.randrange(150, 25_000)
    frequency = rng.uniform(1.05, 1.7)
    ctr = rng.uniform(0.004, 0.035)
    cpm = Decimal(str(round(rng.uniform(2.5, 28.0), 4)))
    purchase_rate = rng.uniform(0.0, 0.09)
    order_value = Decimal(str(round(rng.uniform(18, 160), 2)))
    cart_rate = rng.uniform(0.02, 0.2)
    profile = world.changes.profiles.get(ad_id, {})
    if profile:  # rates fixed through the control API (see metasync.sandbox.delivery)
        frequency = profile.get("frequency", frequency)
        ctr = decayed_ctr(world, ad_id, day, profile.get("ctr", ctr))
        cpm = Decimal(str(profile.get("cpm", cpm)))
        purchase_rate = profile.get("purchase_rate", purchase_rate)
        order_value = Decimal(str(profile.get("order_value", order_value)))
    return _Draw(impressions, frequency, ctr, cpm, purchase_rate, order_value, cart_rate)


def _quantum(world: World, account_id: str) -> Decimal:
    """The smallest amount the account's currency reports: a whole unit for a currency
    without a minor unit (JPY, KRW: Meta's "Currency codes" page gives them an offset of 1),
    else a cent."""
    step = hundredths_per_step(world.accounts[account_id]["currency"])
    return Decimal(1) if step == 100 else CENT


def _spend(impressions: int, cpm: Decimal, quantum: Decimal = CENT) -> Decimal:
    """What ``impressions`` cost at ``cpm``, rounded to ``quantum`` (the currency's step)."""
    return (Decimal(impressions) * cpm / 1000).quantize(quantum, ROUND_HALF_UP)


def _demand(world: World, ad_id: str, day: date) -> Decimal:
    """What the ad would spend on ``day`` without its budget's caps and running all day: the
    caps are set by the day's demand, so a pause later in the day does not move the hours
    before it."""
    drawn = _draw(world, ad_id, day)
    if drawn is None:
        return Decimal(0)
    impressions = int(drawn.impressions * delivery_scale(world, ad_id, day, False))
    return _spend(impressions, drawn.cpm, _quantum(world, world.ads[ad_id]["account_id"]))


def ad_day(world: World, ad_id: str, day: date) -> dict[str, Any] | None:
    """Raw counts of one ad on one day, or None when it did not deliver."""
    drawn = _draw(world, ad_id, day)
    if drawn is None:
        return None
    account_id = world.ads[ad_id]["account_id"]
    capped = budget_factor(world, ad_id, day, lambda ad, when: _demand(world, ad, when))
    impressions = int(int(drawn.impressions * delivery_scale(world, ad_id, day)) * capped)
    if impressions == 0:
        return None  # paused (or left without budget) the whole day
    reach = max(1, int(impressions / drawn.frequency))
    clicks = int(impressions * drawn.ctr)
    quantum = _quantum(world, account_id)
    spend = _spend(impressions, drawn.cpm, quantum)
    purchases = visible_conversions(world, ad_id, day, int(clicks * drawn.purchase_rate))
    revenue = (Decimal(purchases) * drawn.order_value).quantize(quantum, ROUND_HALF_UP)
    counts: dict[str, Any] = {
        "impressions": impressions,
        "reach": reach,
        "clicks": clicks,
        "spend": spend,
        "actions": {
            "link_click": clicks,
            "landing_page_view": int(clicks * 0.82),
            "add_to_cart": int(clicks * drawn.cart_rate),
            "purchase": purchases,
            "offsite_conversion.fb_pixel_purchase": purchases,
        },
        "action_values": {"purchase": revenue, "offsite_conversion.fb_pixel_purchase": revenue},
    }
    custom = world.library.purchase_actions.get(account_id)
    if custom is not None:  # the account's PURCHASE custom conversion counts some purchases
        counted = int(purchases * custom_conversion_share(world, ad_id))
        counts["actions"][custom] = counted
        share = Decimal(counted) / purchases if purchases else Decimal(0)
        counts["action_values"][custom] = (revenue * share).quantize(quantum, ROUND_HALF_UP)
    counts["actions"].update(_leads(world, ad_id, day, clicks))
    return counts


def _leads(world: World, ad_id: str, day: date, clicks: int) -> dict[str, int]:
    """An ad-day's leads, under Meta's action types (Ads Action Stats reference; the meanings
    Fivetran's dbt_facebook_ads package documents): a lead-objective ad's leads are made on
    Meta's instant forms (``onsite_conversion.lead_grouped``), a traffic ad's on the
    advertiser's website (``offsite_conversion.fb_pixel_lead``); both also count as ``lead``
    (every lead). Leads carry no value (no ``action_values``), and arrive late like purchases.
    In a world with lead forms the instant-form leads are the leads of its Lead Ads
    (:mod:`metasync.sandbox.leads`), whatever the ad's objective, so both say the same."""
    campaign = world.campaigns.get(str(world.ads[ad_id].get("campaign_id"))) or {}
    action_type = LEAD_OBJECTIVES.get(str(campaign.get("objective")))
    if world.leads.forms:  # instant-form leads are the world's Lead Ads leads, one count
        found: dict[str, int] = {}
        if action_type == "offsite_conversion.fb_pixel_lead":
            found = _modelled_leads(world, ad_id, day, clicks, action_type)
        onsite = world.leads.ad_day_leads(ad_id, day)  # recorded at once: no late arrival
        if onsite:
            found["onsite_conversion.lead_grouped"] = onsite
            found["lead"] = found.get("lead", 0) + onsite
        return found
    if action_type is None:
        return {}
    return _modelled_leads(world, ad_id, day, clicks, action_type)


def _modelled_leads(
    world: World, ad_id: str, day: date, clicks: int, action_type: str
) -> dict[str, int]:
    """Leads drawn from the ad-day's clicks (a world without lead forms, and website leads)."""
    rate = (0.04 if action_type.startswith("onsite") else 0.01) * (
        1 + unit(world.seed, "lead rate", ad_id)
    )
    leads = visible_conversions(world, ad_id, day, int(clicks * rate))
    return {"lead": leads, action_type: leads} if leads else {}


def _setting_parts(setting: str) -> tuple[str, ...]:
    """The parts an attribution setting's ``value`` counts."""
    clicks = ("c1",) if setting.startswith("1d_click") else ("c1", "c7")
    return (*clicks, "v1") if "view" in setting else clicks


def _parts(seed: int, key: str, total: int, setting: str) -> dict[str, int]:
    """Disjoint parts of an action count whose setting parts sum to ``total`` exactly."""

    def share(tag: str) -> float:
        return unit(seed, "window", tag, key)

    view = math.floor(total * (0.05 + 0.2 * share("view")))
    click = total - view if "view" in setting else total
    if setting.startswith("1d_click"):
        c1, c7 = click, math.floor(click * 0.3 * share("7d"))
    else:
        c1 = math.floor(click * (0.55 + 0.35 * share("1d")))
        c7 = click - c1
    c28 = math.floor((c1 + c7) * 0.15 * share("28d"))
    return {
        "c1": c1,
        "c7": c7,
        "c28": c28,
        "v1": view,
        "ev": math.floor(total * 0.06 * share("ev")),
    }


def _value_parts(parts: dict[str, int], cents: int, setting: str, step: int) -> dict[str, int]:
    """Revenue (cents) per part: the setting's parts share ``cents`` exactly, the others at
    the same value per action; every part a multiple of ``step`` cents (the currency's
    smallest amount, 100 for whole yen)."""
    counted = _setting_parts(setting)
    counts = sum(parts[p] for p in counted)
    out = dict.fromkeys(parts, 0)
    if counts <= 0:
        return out
    weights = [parts[p] for p in counted]
    for part, share in zip(counted, allocate(cents // step, weights), strict=True):
        out[part] = share * step
    for part in parts:
        if part not in counted:
            out[part] = round(cents * parts[part] / counts / step) * step
    return out


def rich_ad_day(
    world: World, ad_id: str, day: date, setting: str, query: InsightsQuery
) -> dict[str, Any] | None:
    """An ad-day as the parts ``query`` needs: counts, spend in cents, actions and revenue
    (as window parts when windows are asked for, else the setting's value alone), video
    counts when video fields are asked for."""
    counts = ad_day(world, ad_id, day)
    if counts is None:
        return None
    key = f"{ad_id}:{day.isoformat()}"
    step = hundredths_per_step(world.accounts[world.ads[ad_id]["account_id"]]["currency"])
    if query.windows:
        actions = {
            (t, None): _parts(world.seed, f"{key}:{SAME_EVENT.get(t, t)}", n, setting)
            for t, n in counts["actions"].items()
        }
        values = {
            (t, None): _value_parts(actions[(t, None)], int(v * 100), setting, step)
            for t, v in counts["action_values"].items()
        }
    else:
        actions = {(t, None): {"value": n} for t, n in counts["actions"].items()}
        values = {(t, None): {"value": int(v * 100)} for t, v in counts["action_values"].items()}
    return {
        "impressions": counts["impressions"],
        "clicks": counts["clicks"],
        "reach": counts["reach"],
        "spend_cents": int(counts["spend"] * 100),
        "actions": actions,
        "action_values": values,
        "video": _video(world, ad_id, day, counts["impressions"]) if query.video else {},
    }


def _video(world: World, ad_id: str, day: date, impressions: int) -> dict[str, int]:
    """The ad-day's video counts, only when the ad's creative holds a video."""
    ad = world.ads.get(ad_id) or {}
    creative = world.creatives.get(str((ad.get("creative") or {}).get("id")))
    return video_counts(world.seed, ad_id, day, impressions, video_ad=is_video_ad(creative))


def _windows(parts: dict[str, int], setting: str) -> dict[str, int]:
    if "c1" not in parts:  # no window asked for: the setting's value alone
        return parts
    c1, c7, c28 = parts["c1"], parts["c7"], parts["c28"]
    return {
        "value": sum(parts[p] for p in _setting_parts(setting)),
        "1d_click": c1,
        "7d_click": c1 + c7,
        "28d_click": c1 + c7 + c28,
        "1d_view": parts["v1"],
        "1d_ev": parts["ev"],
    }


def _bucket(day: date, query: InsightsQuery, first: date, last: date) -> tuple[date, date]:
    """The row a day falls in: its day, week (from ``first``), month or the whole range."""
    if query.increment == "1":
        return day, day
    if query.increment == "all_days":
        return first, last
    if query.increment == "monthly":
        month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return max(first, day.replace(day=1)), min(last, month_end)
    start = first + timedelta(days=7 * ((day - first).days // 7))
    return start, min(last, start + timedelta(days=6))


def _add(total: dict[str, Any], counts: dict[str, Any], setting: str) -> None:
    for key in ("impressions", "clicks", "spend_cents"):
        total[key] = total.get(key, 0) + counts[key]
    total["reach"] = total.get("reach", 0) + counts["reach"]
    total["reach_max"] = max(total.get("reach_max", 0), counts.get("reach_max", counts["reach"]))
    total["parts"] = total.get("parts", 0) + counts.get("reach_parts", 1)
    total.setdefault("settings", set()).add(setting)
    for group in ("actions", "action_values"):
        bucket = total.setdefault(group, {})
        for key, parts in counts[group].items():
            slot = bucket.setdefault(key, {})
            for name, n in _windows(parts, setting).items():
                slot[name] = slot.get(name, 0) + n
    video = total.setdefault("video", {})
    for name, n in counts["video"].items():
        video[name] = video.get(name, 0) + n


def query_rows(
    world: World,
    account_id: str,
    query: InsightsQuery,
    first: date,
    last: date,
    ad_ids: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows of one account for ``query`` between ``first`` and ``last`` (account days), sorted
    by (date, entity id, breakdown values). ``ad_ids`` limits which ads contribute."""
    key = LEVEL_KEYS[query.level]
    names = list(LEVEL_KEYS.values())[: list(LEVEL_KEYS).index(query.level) + 1]
    wanted = set(ad_ids) if ad_ids is not None else None
    data_first = max(first, world.first_data_day(account_id))
    data_last = min(last, world.last_data_day(account_id))
    step = hundredths_per_step(world.accounts[account_id]["currency"])
    totals: dict[tuple[Any, ...], tuple[dict[str, str], dict[str, Any]]] = {}
    for ad in world.ads.values():
        if ad["account_id"] != account_id or (wanted is not None and ad["id"] not in wanted):
            continue
        ids = {
            "account_id": account_id,
            "campaign_id": ad["campaign_id"],
            "adset_id": ad["adset_id"],
            "ad_id": ad["id"],
        }
        level_ids = {name: ids[name] for name in names}
        setting = attribution_setting(ad["adset_id"])
        for day in days_between(data_first, data_last):
            counts = rich_ad_day(world, ad["id"], day, setting, query)
            if counts is None:
                continue
            bucket = _bucket(day, query, first, last)
            for values, cell in split_ad_day(
                world.seed, ad["id"], day.isoformat(), counts, query.breakdowns, step
            ):
                if query.action_device:
                    cell = {
                        **cell,
                        "actions": split_actions_by_device(world.seed, ad["id"], cell["actions"]),
                        "action_values": split_actions_by_device(
                            world.seed, ad["id"], cell["action_values"]
                        ),
                    }
                slot_key = (bucket, level_ids[key], tuple(values.values()))
                slot = totals.setdefault(slot_key, ({**level_ids, **values}, {}))
                _add(slot[1], cell, setting)
    rows = []
    for (bucket, entity, values), (ids, counts) in sorted(totals.items()):
        label = f"{bucket[0]}/{bucket[1]}" if query.increment != "1" else bucket[0].isoformat()
        if values:
            label += "|" + "|".join(values)
        rows.append(
            render_row(world.seed, query, counts, ids, bucket, f"{query.level}:{entity}", label)
        )
    return rows


def level_rows(
    world: World,
    account_id: str,
    level: str,
    first: date,
    last: date,
    ad_ids: Iterable[str] | None = None,
    *,
    daily: bool = True,
) -> list[dict[str, Any]]:
    """Rows of one account at ``level``, no breakdowns: one per entity and day, or with
    ``daily=False`` one per entity for the whole range (``time_increment=all_days``)."""
    query = InsightsQuery(level, increment="1" if daily else "all_days")
    return query_rows(world, account_id, query, first, last, ad_ids)
