"""Meta's rules for insights breakdowns, action breakdowns and attribution windows.

metasync refuses a report Meta would refuse, before any call (the sandbox keeps its own reading
of the same pages, so a misreading on either side fails a test). Sources: Meta's "Insights API
Breakdowns" page, where unclear the stricter reading (a combination is served only when listed
here), and the 2026 out-of-cycle changes:

- 2026-06-22: ``dma`` is retired (:data:`RETIRED_BREAKDOWNS`); ``comscore_market`` replaces it.
- 2026-08-03: :data:`OPT_IN_BREAKDOWNS` "may return no results for ad accounts that have not
  opted in": an empty answer is not "no delivery" (:mod:`metasync.sync.opt_in`). Meta's
  "Feature Settings API" page (2026-08-07) names the feature behind each
  (:data:`FEATURE_BREAKDOWNS`), ``comscore`` among them (:mod:`metasync.sync.features`).
- 2026-01-12: per-breakdown history (:data:`HISTORY_MONTHS`): hourly 13 months,
  ``frequency_value`` 6 months; totals 37 months; ``7d_view``/``28d_view`` return nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ACTION_BREAKDOWNS",
    "ATTRIBUTION_WINDOWS",
    "BREAKDOWNS",
    "FEATURE_BREAKDOWNS",
    "HISTORY_MONTHS",
    "HOURLY_BREAKDOWNS",
    "NO_BREAKDOWN_FIELDS",
    "OFF_META_LIMITED_BREAKDOWNS",
    "OPT_IN_BREAKDOWNS",
    "REACH_FIELDS",
    "REACH_HISTORY_MONTHS",
    "RETIRED_BREAKDOWNS",
    "RETIRED_WINDOWS",
    "TIME_INCREMENTS",
    "combination_error",
    "features_needed",
    "is_unique_field",
    "needs_opt_in",
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
    "comscore_market",
    "frequency_value",
    *HOURLY_BREAKDOWNS,
)
# Meta's "Feature Settings API" page (2026-08-07): the feature an ad account enables for each
# gated breakdown (and every combination containing it); ``comscore`` gates both comscore ones
FEATURE_BREAKDOWNS = {
    "comscore": ("comscore_market", "comscore_market_code"),
    "frequency_value": ("frequency_value",),
    "impression_device": ("impression_device",),
    "time_of_day_viewer_tz": (HOURLY_BREAKDOWNS[1],),
}
OPT_IN_BREAKDOWNS = tuple(name for names in FEATURE_BREAKDOWNS.values() for name in names)
# name -> (the day Meta retired it, what to use instead)
RETIRED_BREAKDOWNS = {"dma": ("2026-06-22", "comscore_market")}
# how far back a breakdown reaches, in months (Meta keeps totals 37 months)
HISTORY_MONTHS = {HOURLY_BREAKDOWNS[0]: 13, HOURLY_BREAKDOWNS[1]: 13, "frequency_value": 6}
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
        ("comscore_market",),
        ("frequency_value",),
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
    retired_names = sorted(names & set(RETIRED_BREAKDOWNS))
    if retired_names:
        name = retired_names[0]
        retired, instead = RETIRED_BREAKDOWNS[name]
        return f"breakdown {name!r} was retired by Meta on {retired}; use {instead} instead"
    unknown = sorted((names - set(BREAKDOWNS)) | (actions - set(ACTION_BREAKDOWNS)))
    if unknown:
        return f"unknown breakdown {', '.join(unknown)}"
    allowed = ACTION_DEVICE_COMBINATIONS if "action_device" in actions else COMBINATIONS
    if frozenset(names) in allowed:
        return None
    columns = ", ".join(sorted(names | actions))
    return f"Current combination of data breakdown columns ({columns}) is invalid"


def features_needed(breakdowns: Iterable[str]) -> set[str]:
    """The Feature Settings API features an account needs for these breakdowns."""
    names = set(breakdowns)
    return {feature for feature, gated in FEATURE_BREAKDOWNS.items() if names & set(gated)}


def needs_opt_in(breakdowns: Iterable[str]) -> bool:
    """Whether Meta answers these breakdowns only for accounts that opted in (2026-08-03)."""
    return any(name in OPT_IN_BREAKDOWNS for name in breakdowns)
