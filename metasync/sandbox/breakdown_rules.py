"""The sandbox's own reading of Meta's breakdown rules, kept apart from metasync's so that a
misreading on either side shows up as a test failure instead of being shared.

Sources: "Insights API Breakdowns"
(https://developers.facebook.com/docs/marketing-api/insights/breakdowns): the combinations
served, action breakdowns, hourly breakdowns without reach or unique counts, and the
breakdowns without off-Meta (pixel) action metrics; "Attribution windows" and the 2026-01-12
out-of-cycle change (7-day and 28-day view windows return nothing, without an error). Where the
page is unclear the stricter reading is taken: a combination is served only when listed.

The 2026 changes (Marketing API "Out-of-cycle changes", 2026):
- 2026-06-22: ``dma`` is no longer supported; ``comscore_market`` replaces it.
- 2026-08-03: ``impression_device`` (and every combination containing it),
  ``hourly_stats_aggregated_by_audience_time_zone`` and ``frequency_value`` "may return no
  results for ad accounts that have not opted in" (the sandbox: no rows at all, no error).
  Meta's "Feature Settings API" page (2026-08-07) names the features that gate them, and
  ``comscore`` (``comscore_market``, ``comscore_market_code``) among them: see feature_settings.py.
  ``comscore_market_code`` is served alone, like ``comscore_market`` (neither page lists a
  combination of the two, so the stricter reading refuses it); its value is the market's code
  (see breakdowns.py), the same markets as ``comscore_market``.
- 2026-01-12: hourly breakdowns reach back 13 months and ``frequency_value`` 6 months (the
  sandbox refuses an older start, the stricter reading of "not available").
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
    "OFF_META_LIMITED_BREAKDOWNS",
    "OPT_IN_BREAKDOWNS",
    "REACH_FIELDS",
    "RETIRED_BREAKDOWNS",
    "RETIRED_WINDOWS",
    "combination_error",
    "counts_people",
]

HOURLY_BREAKDOWNS = (
    "hourly_stats_aggregated_by_advertiser_time_zone",
    "hourly_stats_aggregated_by_audience_time_zone",
)
_DEMOGRAPHICS = ("age", "gender")
_GEOGRAPHY = ("country", "region")
_DELIVERY = ("publisher_platform", "platform_position", "impression_device", "device_platform")
_MARKETS_AND_FREQUENCY = ("comscore_market", "comscore_market_code", "frequency_value")
BREAKDOWNS = (*_DEMOGRAPHICS, *_GEOGRAPHY, *_DELIVERY, *_MARKETS_AND_FREQUENCY, *HOURLY_BREAKDOWNS)
# Meta's "Feature Settings API" page (2026-08-07): feature -> the breakdowns it unlocks (and
# every combination containing them); an account without the feature in effect gets no rows
FEATURE_BREAKDOWNS = {
    "comscore": ("comscore_market", "comscore_market_code"),
    "frequency_value": ("frequency_value",),
    "impression_device": ("impression_device",),
    "time_of_day_viewer_tz": (HOURLY_BREAKDOWNS[1],),
}
OPT_IN_BREAKDOWNS = tuple(name for names in FEATURE_BREAKDOWNS.values() for name in names)
RETIRED_BREAKDOWNS = {"dma": ("2026-06-22", "comscore_market")}  # name -> (retired on, use)
HISTORY_MONTHS = {HOURLY_BREAKDOWNS[0]: 13, HOURLY_BREAKDOWNS[1]: 13, "frequency_value": 6}
ACTION_BREAKDOWNS = ("action_type", "action_target_id", "action_destination", "action_device")
OFF_META_LIMITED_BREAKDOWNS = ("region", *HOURLY_BREAKDOWNS)  # the page's "Type 1" note
ATTRIBUTION_WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_ev", "1d_view")
RETIRED_WINDOWS = ("7d_view", "28d_view")
REACH_FIELDS = ("reach", "frequency", "cpp")

# what Meta serves: no breakdown, each of these alone, and the combinations below
# (platform_position only with publisher_platform)
_SERVED_ALONE = tuple(name for name in BREAKDOWNS if name != "platform_position")
_SERVED_COMBINED = (
    ("age", "gender"),
    ("publisher_platform", "platform_position"),
    ("publisher_platform", "impression_device"),
    ("publisher_platform", "device_platform"),
    ("publisher_platform", "platform_position", "impression_device"),
)
_SERVED = {
    frozenset(),
    *(frozenset((name,)) for name in _SERVED_ALONE),
    *(frozenset(names) for names in _SERVED_COMBINED),
}
# action_device goes only with these delivery breakdowns
_WITH_ACTION_DEVICE = (
    (),
    ("impression_device",),
    ("publisher_platform",),
    ("publisher_platform", "impression_device"),
    ("publisher_platform", "platform_position"),
    ("publisher_platform", "platform_position", "impression_device"),
)
_SERVED_WITH_ACTION_DEVICE = {frozenset(names) for names in _WITH_ACTION_DEVICE}


def counts_people(field: str) -> bool:
    """``unique_*`` and ``cost_per_unique_*`` fields count people, as reach does."""
    return field.startswith(("unique_", "cost_per_unique_"))


def combination_error(breakdowns: Iterable[str], action_breakdowns: Iterable[str]) -> str | None:
    """Meta's message for a combination it does not serve; None when it serves it."""
    names, actions = set(breakdowns), set(action_breakdowns)
    unknown = sorted((names - set(BREAKDOWNS)) | (actions - set(ACTION_BREAKDOWNS)))
    if unknown:
        return f"unknown breakdown {', '.join(unknown)}"
    served = _SERVED_WITH_ACTION_DEVICE if "action_device" in actions else _SERVED
    if frozenset(names) in served:
        return None
    columns = ", ".join(sorted(names | actions))
    return f"Current combination of data breakdown columns ({columns}) is invalid"
