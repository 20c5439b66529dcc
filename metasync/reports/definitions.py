"""Report definitions: what one kind of performance row is, and the prebuilt ones.

A report is a level, metric fields, breakdowns, action breakdowns, attribution windows, a time
increment and its own lookback. metasync's daily rows (``daily_insights``) are the built-in
report every tenant has; the reports here are written to ``report_rows`` with the report's name
in each row's key, so two reports never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from metasync.graph.insights import DEFAULT_INSIGHT_FIELDS
from metasync.reports.catalogue import ATTRIBUTION_WINDOWS, HOURLY_BREAKDOWNS

__all__ = ["BASE_FIELDS", "PREBUILT", "ReportDefinition"]

# the metrics of the daily rows (their ids, dates and attribution setting are added per read)
BASE_FIELDS = tuple(
    name
    for name in DEFAULT_INSIGHT_FIELDS
    if not name.endswith("_id") and not name.startswith("date_") and name != "attribution_setting"
)
NO_REACH_FIELDS = tuple(name for name in BASE_FIELDS if name not in ("reach", "frequency"))
VIDEO_FIELDS = (
    "impressions",
    "spend",
    "video_play_actions",
    "video_p25_watched_actions",
    "video_p50_watched_actions",
    "video_p75_watched_actions",
    "video_p100_watched_actions",
    "video_thruplay_watched_actions",
    "video_avg_time_watched_actions",
)
REACH_ONLY_FIELDS = ("impressions", "spend", "reach", "frequency")


@dataclass(frozen=True)
class ReportDefinition:
    """One kind of performance row.

    ``time_increment``: ``"1"`` (daily), ``"7"`` (weeks from Monday), ``"monthly"`` (calendar
    months) or ``"all_days"`` (one row for the report's whole range; ``lookback_days`` 0 means
    Meta's 37 months, i.e. lifetime). ``lookback_days``: how many days an initial or daily
    lookback run reads (runs in between read the recent days only).
    """

    name: str
    level: str
    fields: tuple[str, ...]
    breakdowns: tuple[str, ...] = ()
    action_breakdowns: tuple[str, ...] = ("action_type",)
    attribution_windows: tuple[str, ...] = ()
    time_increment: str = "1"
    lookback_days: int = 28
    description: str = ""
    prebuilt: bool = field(default=False, compare=False)

    @property
    def hourly(self) -> bool:
        return any(name in HOURLY_BREAKDOWNS for name in self.breakdowns)

    def request_shape(self) -> tuple[Any, ...]:
        """What must be equal for two reports to share one request (fields are merged)."""
        return (
            self.level,
            tuple(sorted(self.breakdowns)),
            tuple(sorted(self.action_breakdowns)),
            tuple(sorted(self.attribution_windows)),
            self.time_increment,
            self.lookback_days,
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("prebuilt")
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in data.items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportDefinition:
        return cls(
            name=str(data["name"]),
            level=str(data["level"]),
            fields=tuple(data["fields"]),
            breakdowns=tuple(data.get("breakdowns") or ()),
            action_breakdowns=tuple(data.get("action_breakdowns") or ("action_type",)),
            attribution_windows=tuple(data.get("attribution_windows") or ()),
            time_increment=str(data.get("time_increment") or "1"),
            lookback_days=int(data.get("lookback_days", 28)),
            description=str(data.get("description") or ""),
        )


def _prebuilt(name: str, description: str, **values: Any) -> ReportDefinition:
    values.setdefault("level", "ad")
    values.setdefault("fields", BASE_FIELDS)
    values.setdefault("attribution_windows", ATTRIBUTION_WINDOWS)
    return ReportDefinition(name=name, description=description, prebuilt=True, **values)


PREBUILT: dict[str, ReportDefinition] = {
    report.name: report
    for report in (
        _prebuilt("age_gender", "ads by age and gender", breakdowns=("age", "gender")),
        _prebuilt("country", "ads by country", breakdowns=("country",)),
        _prebuilt(
            "region",
            "ads by region (Meta serves no pixel conversions with it)",
            breakdowns=("region",),
        ),
        _prebuilt(
            "placement",
            "ads by platform and position",
            breakdowns=("publisher_platform", "platform_position"),
        ),
        _prebuilt(
            "placement_device",
            "ads by platform, position and device (only for accounts opted in to the device "
            "breakdown since 2026-08-03)",
            breakdowns=("publisher_platform", "platform_position", "impression_device"),
        ),
        _prebuilt(
            "comscore_market",
            "ads by Comscore market (Meta's replacement for DMA since 2026-06-22)",
            breakdowns=("comscore_market",),
        ),
        _prebuilt("device_platform", "ads by device platform", breakdowns=("device_platform",)),
        _prebuilt(
            "hourly",
            "ads by hour of the advertiser's day (no reach: Meta serves none hourly)",
            breakdowns=(HOURLY_BREAKDOWNS[0],),
            fields=NO_REACH_FIELDS,
            attribution_windows=(),
            lookback_days=7,
        ),
        _prebuilt(
            "hourly_audience",
            "ads by hour of the audience's day (only for accounts opted in since 2026-08-03)",
            breakdowns=(HOURLY_BREAKDOWNS[1],),
            fields=NO_REACH_FIELDS,
            attribution_windows=(),
            lookback_days=7,
        ),
        _prebuilt(
            "actions_by_device",
            "ads' actions by the device they happened on",
            fields=("impressions", "spend", "actions", "action_values"),
            action_breakdowns=("action_device",),
        ),
        _prebuilt(
            "video",
            "ads' video plays and completions (shares the daily ad read)",
            fields=VIDEO_FIELDS,
            attribution_windows=(),
        ),
        _prebuilt(
            "reach_weekly",
            "campaigns' reach per week (Monday to Sunday)",
            level="campaign",
            fields=REACH_ONLY_FIELDS,
            attribution_windows=(),
            time_increment="7",
        ),
        _prebuilt(
            "reach_monthly",
            "campaigns' reach per calendar month",
            level="campaign",
            fields=REACH_ONLY_FIELDS,
            attribution_windows=(),
            time_increment="monthly",
            lookback_days=62,
        ),
        _prebuilt(
            "reach_lifetime",
            "campaigns' reach over Meta's whole retention (37 months)",
            level="campaign",
            fields=REACH_ONLY_FIELDS,
            attribution_windows=(),
            time_increment="all_days",
            lookback_days=0,
        ),
    )
}
