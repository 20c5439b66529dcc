"""Meta's rules for insights breakdowns, action breakdowns and attribution windows.

Shared by metasync (which refuses a report Meta would refuse, before any call) and the sandbox
(which answers such a request with Meta's error), so both follow one reading of Meta's
"Insights API Breakdowns" page. Where the page is unclear the stricter reading is taken: a
combination is served only when it is listed here.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ACTION_BREAKDOWNS",
    "ATTRIBUTION_WINDOWS",
    "BREAKDOWNS",
    "HOURLY_BREAKDOWNS",
    "NO_BREAKDOWN_FIELDS",
    "OFF_META_LIMITED_BREAKDOWNS",
    "REACH_FIELDS",
    "REACH_HISTORY_MONTHS",
    "RETIRED_WINDOWS",
    "TIME_INCREMENTS",
    "combination_error",
    "is_unique_field",
]

HOURLY_BREAKDOWNS = (
    "hourly_stats_aggregated_by_advertiser_time_zone",
    "hourly_stats_aggregated_by_audience_time_zone",
)
BREAKDOWNS = (
    "age",
    "gender",
    "country",
    "region",
    "publisher_platform",
    "platform_position",
    "impression_device",
    "device_platform",
    *HOURLY_BREAKDOWNS,
)
# ``action_target_id`` and ``action_destination`` go wherever ``action_type`` goes
ACTION_BREAKDOWNS = ("action_type", "action_target_id", "action_destination", "action_device")
# Meta's "Breakdowns" page, Type 1: no off-Meta action metrics (pixel events) with these
OFF_META_LIMITED_BREAKDOWNS = ("region", *HOURLY_BREAKDOWNS)
# The combinations Meta serves (``action_type`` goes with each; ``action_device`` only with
# the delivery ones listed in ACTION_DEVICE_COMBINATIONS)
COMBINATIONS: tuple[frozenset[str], ...] = tuple(
    frozenset(names)
    for names in (
        (),
        ("age",),
        ("gender",),
        ("age", "gender"),
        ("country",),
        ("region",),
        ("publisher_platform",),
        ("impression_device",),
        ("device_platform",),
        ("publisher_platform", "platform_position"),
        ("publisher_platform", "impression_device"),
        ("publisher_platform", "device_platform"),
        ("publisher_platform", "platform_position", "impression_device"),
        (HOURLY_BREAKDOWNS[0],),
        (HOURLY_BREAKDOWNS[1],),
    )
)
ACTION_DEVICE_COMBINATIONS: tuple[frozenset[str], ...] = tuple(
    frozenset(names)
    for names in (
        (),
        ("impression_device",),
        ("publisher_platform",),
        ("publisher_platform", "impression_device"),
        ("publisher_platform", "platform_position"),
        ("publisher_platform", "platform_position", "impression_device"),
    )
)
ATTRIBUTION_WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_ev", "1d_view")
# 7-day and 28-day view windows return nothing since 2026-01-12 (no error from Meta)
RETIRED_WINDOWS = ("7d_view", "28d_view")
TIME_INCREMENTS = ("1", "7", "monthly", "all_days")
# reach and the fields computed from it (omitted for old breakdown reads, refused hourly)
REACH_FIELDS = ("reach", "frequency", "cpp")
REACH_HISTORY_MONTHS = 13
# fields Meta does not serve with any breakdown
NO_BREAKDOWN_FIELDS = (
    "app_store_clicks",
    "newsfeed_avg_position",
    "newsfeed_clicks",
    "relevance_score",
    "newsfeed_impressions",
)


def is_unique_field(name: str) -> bool:
    """``unique_*`` and ``cost_per_unique_*`` count people, like reach."""
    return name.startswith("unique_") or name.startswith("cost_per_unique_")


def combination_error(breakdowns: Iterable[str], action_breakdowns: Iterable[str]) -> str | None:
    """None when Meta serves the combination, else its message naming the columns:
    ``Current combination of data breakdown columns (action_type, age, country) is invalid``."""
    names, actions = set(breakdowns), set(action_breakdowns)
    unknown = sorted((names - set(BREAKDOWNS)) | (actions - set(ACTION_BREAKDOWNS)))
    if unknown:
        return f"unknown breakdown {', '.join(unknown)}"
    allowed = ACTION_DEVICE_COMBINATIONS if "action_device" in actions else COMBINATIONS
    if frozenset(names) in allowed:
        return None
    columns = ", ".join(sorted(names | actions))
    return f"Current combination of data breakdown columns ({columns}) is invalid"
