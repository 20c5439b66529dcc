"""Daily insights of the sandbox world, computed (not stored) from the seed.

An ad's metrics on a day are a pure function of (seed, ad id, day), so any read, by any process,
at any time, gives the same numbers, and the ground truth needs no second copy. Campaign, ad set
and account rows are sums over their ads, with the ratios recomputed from the sums. Numbers are
returned as Meta returns them: strings (``"spend": "53.40"``).

Each delivering day has ``actions`` and ``action_values`` with purchases reported twice, as Meta
does (``purchase`` and ``offsite_conversion.fb_pixel_purchase``), and other action types.

Reach counts people, so it is never summed: a row that covers several ad-days (an ad set's day,
an ad's week) reaches fewer people than the sum of its parts, and at least as many as its largest
part. The overlap is a deterministic function of the row, and ``frequency`` is impressions / reach
at every level. ``attribution_setting`` is the ad set's (Meta applies each ad set's unified
setting since 2025-06-10); a row over ad sets with different settings says ``mixed``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from metasync.sandbox.shapes import attribution_setting
from metasync.sandbox.world import World

__all__ = ["LEVEL_KEYS", "ad_day", "days_between", "level_rows"]

LEVEL_KEYS = {
    "account": "account_id",
    "campaign": "campaign_id",
    "adset": "adset_id",
    "ad": "ad_id",
}
CENT = Decimal("0.01")
RATIO = Decimal("0.000001")
ACTION_TYPES = (
    "link_click",
    "landing_page_view",
    "add_to_cart",
    "purchase",
    "offsite_conversion.fb_pixel_purchase",
)


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def days_between(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def ad_day(world: World, ad_id: str, day: date) -> dict[str, Any] | None:
    """Raw counts of one ad on one day, or None when it did not deliver."""
    start, end = world.delivery[ad_id]
    account_id = world.ads[ad_id]["account_id"]
    if day < start or (end is not None and day > end) or day > world.last_data_day(account_id):
        return None
    digest = hashlib.sha256(f"{world.seed}:{ad_id}:{day.isoformat()}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    if rng.random() < 0.08:
        return None  # a day without delivery
    impressions = rng.randrange(150, 25_000)
    reach = max(1, int(impressions / rng.uniform(1.05, 1.7)))
    clicks = int(impressions * rng.uniform(0.004, 0.035))
    cpm = Decimal(str(round(rng.uniform(2.5, 28.0), 4)))
    spend = (Decimal(impressions) * cpm / 1000).quantize(CENT, ROUND_HALF_UP)
    purchases = int(clicks * rng.uniform(0.0, 0.09))
    revenue = (Decimal(purchases) * Decimal(str(round(rng.uniform(18, 160), 2)))).quantize(CENT)
    return {
        "impressions": impressions,
        "reach": reach,
        "clicks": clicks,
        "spend": spend,
        "actions": {
            "link_click": clicks,
            "landing_page_view": int(clicks * 0.82),
            "add_to_cart": int(clicks * rng.uniform(0.02, 0.2)),
            "purchase": purchases,
            "offsite_conversion.fb_pixel_purchase": purchases,
        },
        "action_values": {"purchase": revenue, "offsite_conversion.fb_pixel_purchase": revenue},
    }


def _ratio(numerator: Decimal, denominator: Decimal, scale: int = 1) -> str | None:
    if denominator == 0:
        return None
    return str((numerator * scale / denominator).quantize(RATIO, ROUND_HALF_UP))


def _reach(seed: int, counts: dict[str, Any], entity: str, bucket: str) -> int:
    """People reached by a row made of ``counts["parts"]`` ad-days: between the largest part
    and (strictly below) the sum of the parts, never the sum."""
    total, largest = counts["reach"], counts["reach_max"]
    if counts["parts"] <= 1 or total <= largest:
        return int(total)
    overlap = 0.55 + 0.3 * _unit(seed, "reach", entity, bucket)
    return int(min(total - 1, max(largest, int(total * overlap))))


def _render(counts: dict[str, Any], ids: dict[str, str], day: date, reach: int) -> dict[str, Any]:
    impressions, clicks = Decimal(counts["impressions"]), Decimal(counts["clicks"])
    spend = counts["spend"]
    settings = counts["settings"]
    row: dict[str, Any] = {
        **ids,
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
        "impressions": str(counts["impressions"]),
        "clicks": str(counts["clicks"]),
        "spend": str(spend),
        "reach": str(reach),
        "frequency": _ratio(impressions, Decimal(reach)),
        "ctr": _ratio(clicks, impressions, 100),
        "cpc": _ratio(spend, clicks),
        "cpm": _ratio(spend, impressions, 1000),
        "attribution_setting": settings.pop() if len(settings) == 1 else "mixed",
        "actions": [{"action_type": t, "value": str(v)} for t, v in counts["actions"].items() if v],
        "action_values": [
            {"action_type": t, "value": str(v)} for t, v in counts["action_values"].items() if v
        ],
    }
    return {key: value for key, value in row.items() if value is not None and value != []}


def _add(total: dict[str, Any], counts: dict[str, Any], setting: str) -> None:
    for key in ("impressions", "reach", "clicks", "spend"):
        total[key] = total.get(key, 0) + counts[key]
    total["reach_max"] = max(total.get("reach_max", 0), counts["reach"])
    total["parts"] = total.get("parts", 0) + 1
    total.setdefault("settings", set()).add(setting)
    for group in ("actions", "action_values"):
        bucket = total.setdefault(group, {})
        for action_type, value in counts[group].items():
            bucket[action_type] = bucket.get(action_type, 0) + value


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
    """Rows of one account at ``level`` between ``first`` and ``last`` (account days), sorted by
    (date, entity id): one per entity and day, or with ``daily=False`` one per entity for the
    whole range (``time_increment=all_days``). ``ad_ids`` limits which ads contribute."""
    key = LEVEL_KEYS[level]
    wanted = set(ad_ids) if ad_ids is not None else None
    first = max(first, world.first_data_day(account_id))
    last = min(last, world.last_data_day(account_id))
    totals: dict[tuple[str, str], tuple[dict[str, str], dict[str, Any]]] = {}
    for ad in world.ads.values():
        if ad["account_id"] != account_id or (wanted is not None and ad["id"] not in wanted):
            continue
        ids = {
            "account_id": account_id,
            "campaign_id": ad["campaign_id"],
            "adset_id": ad["adset_id"],
            "ad_id": ad["id"],
        }
        level_ids = {
            name: ids[name]
            for name in list(LEVEL_KEYS.values())[: list(LEVEL_KEYS).index(level) + 1]
        }
        setting = attribution_setting(ad["adset_id"])
        for day in days_between(first, last):
            counts = ad_day(world, ad["id"], day)
            if counts is None:
                continue
            bucket = day.isoformat() if daily else ""
            slot = totals.setdefault((bucket, level_ids[key]), (level_ids, {}))
            _add(slot[1], counts, setting)
    rows = []
    for (bucket, entity), (ids, counts) in sorted(totals.items()):
        span = bucket or f"{first}/{last}"
        reach = _reach(world.seed, counts, f"{level}:{entity}", span)
        row = _render(counts, ids, date.fromisoformat(bucket) if bucket else first, reach)
        if not daily:
            row["date_stop"] = last.isoformat()
        rows.append(row)
    return rows
