"""How the sandbox splits one ad's day into breakdown values, the way Meta serves them.

Every breakdown belongs to a family of dimensions (demographics: age x gender; geography:
country x region; delivery: platform x position x device; Comscore markets; frequency values;
the two hourly ones). An ad-day is
split over its family's joint cells by weights that are a pure function of (seed, ad, cell,
day), with integer counts allocated by largest remainder, so the values of any additive metric
over the cells sum exactly to the unbroken row; a query's rows are the marginals of the joint
split on the breakdowns it names, so ``age`` and ``age,gender`` agree with each other too. Action
values are split the way their actions were (a cell without a purchase has no purchase value),
and money in steps of the currency's smallest amount (whole yen: Meta's "Currency codes" page
gives JPY, KRW and a few others an offset of 1).

Reach is people: a cell's reach comes from its own impressions, and a row made of several cells
is deduplicated like any other row (never summed). Meta's "Breakdowns" page rules are kept:
with ``region`` or hourly breakdowns no off-Meta (pixel) actions are served; with the
``action_device`` action breakdown off-Meta actions come without a device value.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections.abc import Sequence
from itertools import product
from typing import Any

from metasync.sandbox.breakdown_rules import HOURLY_BREAKDOWNS, OFF_META_LIMITED_BREAKDOWNS

__all__ = [
    "ACTION_DEVICES",
    "BREAKDOWN_NAMES",
    "ON_META_ACTIONS",
    "allocate",
    "delivery_reach",
    "family_of",
    "split_actions_by_device",
    "split_ad_day",
    "unit",
]

AGES = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
GENDERS = ("female", "male", "unknown")
REGIONS = {
    "US": ("California", "Texas", "New York"),
    "GB": ("England", "Scotland"),
    "DE": ("Bavaria", "Berlin"),
    "FR": ("Ile-de-France",),
    "CA": ("Ontario", "Quebec"),
    "BR": ("Sao Paulo",),
}
POSITIONS = {
    "facebook": ("feed", "facebook_stories", "marketplace", "video_feeds", "right_hand_column"),
    "instagram": ("stream", "instagram_stories", "instagram_reels", "instagram_explore"),
    "audience_network": ("an_classic", "rewarded_video"),
    "messenger": ("messenger_inbox",),
}
DEVICES = ("desktop", "iphone", "android_smartphone", "ipad", "android_tablet", "other")
ACTION_DEVICES = ("desktop", "iphone", "android_smartphone", "ipad", "other")
ON_META_ACTIONS = ("link_click",)  # the others are measured by the pixel (off Meta)
HOURS = tuple(f"{h:02d}:00:00 - {h:02d}:59:59" for h in range(24))
COMSCORE_MARKETS = ("New York", "Los Angeles", "Chicago", "Philadelphia", "Dallas-Ft. Worth")
# ``comscore_market_code``: Meta's pages ("Insights API Breakdowns", "Feature Settings API",
# 2026-08-07) name the breakdown, not its values. Comscore Markets are 210 local markets drawn
# like the DMAs they replaced; the sandbox sends each market's three-digit code in that
# numbering, as a string of digits (an assumption: Meta is silent), one code per
# market, so ``comscore_market`` and ``comscore_market_code`` rows split an ad-day alike.
COMSCORE_MARKET_CODES = dict(
    zip(COMSCORE_MARKETS, ("501", "803", "602", "504", "623"), strict=True)
)
FREQUENCY_VALUES = ("1", "2", "3", "4", "5", "6-10", "11-20", "21+")


def _device_platform(platform: str, device: str) -> str:
    if device == "desktop":
        return "desktop"
    return "mobile_web" if platform == "audience_network" else "mobile_app"


def _cells(family: str) -> list[dict[str, str]]:
    if family == "demographics":
        return [{"age": a, "gender": g} for a, g in product(AGES, GENDERS)]
    if family == "geography":
        return [{"country": c, "region": r} for c, regions in REGIONS.items() for r in regions]
    if family == "delivery":
        return [
            {
                "publisher_platform": platform,
                "platform_position": position,
                "impression_device": device,
                "device_platform": _device_platform(platform, device),
            }
            for platform, positions in POSITIONS.items()
            for position in positions
            for device in DEVICES
        ]
    if family == "comscore_market":
        return [
            {family: market, "comscore_market_code": COMSCORE_MARKET_CODES[market]}
            for market in COMSCORE_MARKETS
        ]
    if family == "frequency_value":
        return [{family: value} for value in FREQUENCY_VALUES]
    return [{family: hour} for hour in HOURS]  # an hourly breakdown is its own family


CELLS = {
    family: _cells(family)
    for family in (
        "demographics",
        "geography",
        "delivery",
        "comscore_market",
        "frequency_value",
        *HOURLY_BREAKDOWNS,
    )
}
FAMILY_OF = {name: family for family, cells in CELLS.items() for name in cells[0]}
BREAKDOWN_NAMES = tuple(FAMILY_OF)  # every breakdown the sandbox serves, in a row's key order


def family_of(breakdowns: Sequence[str]) -> str | None:
    families = {FAMILY_OF[name] for name in breakdowns}
    return families.pop() if len(families) == 1 else None


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` by largest remainder: sums exactly."""
    whole = sum(weights)
    if total <= 0 or whole <= 0:
        return [0] * len(weights)
    shares = [total * w / whole for w in weights]
    counts = [math.floor(s) for s in shares]
    left = total - sum(counts)
    order = sorted(range(len(shares)), key=lambda i: (counts[i] - shares[i], i))
    for index in order[:left]:
        counts[index] += 1
    return counts


@functools.lru_cache(maxsize=4096)
def _ad_mix(seed: int, ad_id: str, family: str) -> tuple[float, ...]:
    """An ad's own (stable) mix over a family's cells. Delivery is sparse: an ad runs on a
    few placements only. Hours follow a day's curve."""
    weights = []
    for cell in CELLS[family]:
        # a market's code names the same cell as its name: left out, the mix stays the same
        label = "|".join(v for k, v in cell.items() if k != "comscore_market_code")
        if family == "delivery" and unit(seed, "placed", ad_id, label) < 0.75:
            weights.append(0.0)
        elif family in HOURLY_BREAKDOWNS:
            hour = HOURS.index(cell[family])
            weights.append(0.25 + math.sin(math.pi * max(0, hour - 5) / 19) ** 2)
        else:
            weights.append(0.05 + unit(seed, "mix", ad_id, label))
    return tuple(weights)


def _weights(seed: int, ad_id: str, day: str, family: str) -> list[float]:
    """The cells' shares of one ad-day: the ad's mix with a little day noise."""
    noise = random.Random(f"{seed}:{ad_id}:{day}:{family}")
    return [w * (0.8 + 0.4 * noise.random()) for w in _ad_mix(seed, ad_id, family)]


def _split_parts(
    parts: dict[tuple[str, str | None], dict[str, int]], weights: Sequence[int]
) -> list[dict[tuple[str, str | None], dict[str, int]]]:
    out: list[dict[tuple[str, str | None], dict[str, int]]] = [{} for _ in weights]
    for key, values in parts.items():
        for name, total in values.items():
            for index, share in enumerate(allocate(total, weights)):
                out[index].setdefault(key, {})[name] = share
    return out


def _split_values(
    values: dict[tuple[str, str | None], dict[str, int]],
    actions: Sequence[dict[tuple[str, str | None], dict[str, int]]],
    fallback: Sequence[int],
    step: int,
) -> list[dict[tuple[str, str | None], dict[str, int]]]:
    """Action values split the way their actions were: each cell's share of a value is its
    share of the same action's count (a cell without a purchase has no purchase value, as at
    Meta), in multiples of ``step`` cents. A value whose action has no count anywhere (none
    in the sandbox) follows ``fallback`` so the cells still sum to the ad-day."""
    out: list[dict[tuple[str, str | None], dict[str, int]]] = [{} for _ in actions]
    for key, windows in values.items():
        for name, total in windows.items():
            weights = [cell.get(key, {}).get(name, 0) for cell in actions]
            shares = allocate(total // step, weights if sum(weights) else fallback)
            for index, share in enumerate(shares):
                out[index].setdefault(key, {})[name] = share * step
    return out


def split_ad_day(
    seed: int,
    ad_id: str,
    day: str,
    counts: dict[str, Any],
    breakdowns: Sequence[str],
    step: int = 1,
) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """One ad-day's counts as (breakdown values, counts) per value of ``breakdowns``;
    ``[({}, counts)]`` without breakdowns. Cells without impressions are left out. Money
    (spend, action values; cents) is split in multiples of ``step`` cents, the currency's
    smallest amount (100: whole yen), so each value still sums exactly to the ad-day."""
    if not breakdowns:
        return [({}, counts)]
    family = family_of(breakdowns)
    if family is None:
        raise ValueError(f"breakdowns {list(breakdowns)} are not one family")
    cells = CELLS[family]
    impressions = allocate(counts["impressions"], _weights(seed, ad_id, day, family))
    kept = [index for index, n in enumerate(impressions) if n > 0]
    kept_impressions = [impressions[i] for i in kept]
    clicks = allocate(counts["clicks"], kept_impressions)
    cents = [n * step for n in allocate(counts["spend_cents"] // step, kept_impressions)]
    by_click = clicks if sum(clicks) else kept_impressions
    actions = _split_parts(counts["actions"], by_click)
    values = _split_values(counts["action_values"], actions, by_click, step)
    video = {name: allocate(total, kept_impressions) for name, total in counts["video"].items()}
    ratio = counts["reach"] / counts["impressions"]
    marginals: dict[tuple[str, ...], tuple[dict[str, str], dict[str, Any]]] = {}
    limited = any(name in OFF_META_LIMITED_BREAKDOWNS for name in breakdowns)
    for position, index in enumerate(kept):
        cell = cells[index]
        n = kept_impressions[position]
        jitter = 0.9 + 0.2 * unit(seed, "reach", ad_id, day, index)
        part = {
            "impressions": n,
            "clicks": clicks[position],
            "spend_cents": cents[position],
            "reach": max(1, min(n, round(n * ratio * jitter))),
            "actions": {
                k: v for k, v in actions[position].items() if not limited or k[0] in ON_META_ACTIONS
            },
            "action_values": {
                k: v for k, v in values[position].items() if not limited or k[0] in ON_META_ACTIONS
            },
            "video": {name: shares[position] for name, shares in video.items()},
        }
        key = tuple(cell[name] for name in breakdowns)
        slot = marginals.setdefault(key, ({name: cell[name] for name in breakdowns}, {}))
        _merge(slot[1], part)
    if family == "delivery":  # the same people see several placements and devices
        for _, total in marginals.values():
            reach = delivery_reach(total["impressions"], counts["impressions"], ratio)
            total.update(reach=reach, reach_max=reach, reach_parts=1)
    return list(marginals.values())


def delivery_reach(impressions: int, whole: int, ratio: float) -> int:
    """People one placement or device value reached, of an ad-day that reached ``ratio`` people
    per impression: a smaller share of the day's impressions is seen at a lower frequency
    (``ratio ** sqrt(share)``), so the values' reach adds up to at least the day's (a person
    who saw the ad in two placements counts in both, as at Meta) and a value holding the whole
    day has the day's reach."""
    share = impressions / whole
    return max(1, min(impressions, round(impressions * float(ratio ** math.sqrt(share)))))


def _merge(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Add a cell into a marginal (reach as parts: the row deduplicates it later)."""
    for key in ("impressions", "clicks", "spend_cents", "reach"):
        total[key] = total.get(key, 0) + part[key]
    total["reach_max"] = max(total.get("reach_max", 0), part["reach"])
    total["reach_parts"] = total.get("reach_parts", 0) + 1
    for group in ("actions", "action_values"):
        bucket = total.setdefault(group, {})
        for key, values in part[group].items():
            slot = bucket.setdefault(key, {})
            for name, n in values.items():
                slot[name] = slot.get(name, 0) + n
    video = total.setdefault("video", {})
    for name, n in part["video"].items():
        video[name] = video.get(name, 0) + n


def split_actions_by_device(
    seed: int, ad_id: str, groups: dict[tuple[str, str | None], dict[str, int]]
) -> dict[tuple[str, str | None], dict[str, int]]:
    """``action_device``: on-Meta actions split over the devices they happened on; off-Meta
    (pixel) actions keep no device value (Meta's Type 2 rule)."""
    weights = [0.1 + unit(seed, "action_device", ad_id, d) for d in ACTION_DEVICES]
    out: dict[tuple[str, str | None], dict[str, int]] = {}
    for (action_type, _), values in groups.items():
        if action_type not in ON_META_ACTIONS:
            out[(action_type, None)] = dict(values)
            continue
        for name, total in values.items():
            for device, share in zip(ACTION_DEVICES, allocate(total, weights), strict=True):
                out.setdefault((action_type, device), {})[name] = share
    return out
