"""One insights row of the sandbox, rendered the way Meta returns it (numbers as strings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from metasync.sandbox.breakdowns import unit
from metasync.sandbox.video import render_video

__all__ = ["InsightsQuery", "render_row"]

RATIO = Decimal("0.000001")
PROMOTED_PAGE_ID = "110000000000001"  # the page of every creative's object_story_spec


@dataclass(frozen=True)
class InsightsQuery:
    """What an insights read asks for besides its range: level, breakdowns, whether actions
    are broken down by device, the attribution windows (retired ones already dropped) and the
    time increment (``1``, ``7``, ``monthly``, ``all_days``)."""

    level: str
    breakdowns: tuple[str, ...] = ()
    action_device: bool = False
    windows: tuple[str, ...] = ()
    increment: str = "1"
    video: bool = False  # video fields asked for (computed only then)
    action_targets: bool = False  # action_target_id / action_destination asked for


def _ratio(numerator: Decimal, denominator: Decimal, scale: int = 1) -> str | None:
    if denominator == 0:
        return None
    return str((numerator * scale / denominator).quantize(RATIO, ROUND_HALF_UP))


def _reach(seed: int, counts: dict[str, Any], entity: str, label: str) -> int:
    """People reached by a row made of ``counts["parts"]`` parts: between the largest part
    and (strictly below) the sum of the parts, never the sum."""
    total, largest = counts["reach"], counts["reach_max"]
    if counts["parts"] <= 1 or total <= largest:
        return int(total)
    overlap = 0.55 + 0.3 * unit(seed, "reach", entity, label)
    return int(min(total - 1, max(largest, int(total * overlap))))


def _entries(
    groups: dict[tuple[str, str | None], dict[str, int]], query: InsightsQuery, money: bool
) -> list[dict[str, str]]:
    """``actions`` / ``action_values`` entries: ``value`` by the attribution setting, each
    asked-for window beside it, ``action_device`` when actions are broken down by device."""
    entries = []
    for (action_type, device), windows in groups.items():
        shown = [windows["value"], *(windows[w] for w in query.windows)]
        if not any(shown):
            continue
        entry = {"action_type": action_type}
        if device is not None:
            entry["action_device"] = device
        if query.action_targets:  # every sandbox ad promotes the same page
            entry["action_target_id"] = entry["action_destination"] = PROMOTED_PAGE_ID
        entry["value"] = _number(windows["value"], money)
        for window in query.windows:
            entry[window] = _number(windows[window], money)
        entries.append(entry)
    return entries


def _number(value: int, money: bool) -> str:
    return str(Decimal(value).scaleb(-2)) if money else str(value)


def render_row(
    seed: int,
    query: InsightsQuery,
    counts: dict[str, Any],
    ids: dict[str, str],
    bucket: tuple[date, date],
    entity: str,
    label: str,
) -> dict[str, Any]:
    impressions, clicks = Decimal(counts["impressions"]), Decimal(counts["clicks"])
    spend = Decimal(counts["spend_cents"]).scaleb(-2)
    reach = _reach(seed, counts, entity, label)
    settings = counts["settings"]
    row: dict[str, Any] = {
        **ids,
        "date_start": bucket[0].isoformat(),
        "date_stop": bucket[1].isoformat(),
        "impressions": str(counts["impressions"]),
        "clicks": str(counts["clicks"]),
        # Meta's Ads Insights field (developers.facebook.com/docs/marketing-api/reference/
        # ads-insights): clicks on the ad's links. Every sandbox click is one (its link_click
        # action counts them all), so it equals clicks here.
        "inline_link_clicks": str(counts["clicks"]),
        "spend": str(spend),
        "reach": str(reach),
        "frequency": _ratio(impressions, Decimal(reach)),
        "cpp": _ratio(spend, Decimal(reach), 1000),
        "ctr": _ratio(clicks, impressions, 100),
        "cpc": _ratio(spend, clicks),
        "cpm": _ratio(spend, impressions, 1000),
        "attribution_setting": next(iter(settings)) if len(settings) == 1 else "mixed",
        "actions": _entries(counts["actions"], query, money=False),
        "action_values": _entries(counts["action_values"], query, money=True),
        **render_video(counts["video"]),
    }
    return {key: value for key, value in row.items() if value is not None and value != []}
