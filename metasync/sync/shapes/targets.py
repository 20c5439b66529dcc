"""What one insights read is for: the daily rows of a level, reports sharing that read, or
reports alone, and the one request that reads it (its rows are written by
:func:`metasync.sync.write.insight_rows.write_insight_page`).

A subtask names its read in its edge after ``insights:`` (synchronous) or ``report:`` (async
job): ``ad`` (the daily rows of a level), ``ad@video`` (the daily ad rows and the ``video``
report, one request with the fields of both), or ``@age_gender,custom`` (reports of one shape
sharing one request). Reports are looked up by name when the read runs, so a subtask's
arguments stay short and secret-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metasync.graph import insights_params
from metasync.graph.insights import DEFAULT_INSIGHT_FIELDS, VIDEO_FIELDS
from metasync.reports.definitions import ReportDefinition
from metasync.reports.store import definitions

__all__ = ["ReadTarget", "base_shape", "spec_of", "target_of"]

LEVEL_IDS = ("account_id", "campaign_id", "adset_id", "ad_id")
LEVELS = ("account", "campaign", "adset", "ad")


def base_shape(level: str, lookback_days: int) -> tuple[Any, ...]:
    """The request shape of a level's daily rows (a report of this shape shares their read)."""
    return (level, (), ("action_type",), (), "1", lookback_days)


def spec_of(level: str | None, names: list[str] | tuple[str, ...]) -> str:
    """The edge suffix for a level's daily rows (``level``), with or without reports."""
    if not names:
        return str(level)
    return f"{level or ''}@{','.join(names)}"


@dataclass(frozen=True)
class ReadTarget:
    level: str
    base: bool  # the level's daily rows
    reports: tuple[ReportDefinition, ...]

    @property
    def time_increment(self) -> str:
        return "1" if self.base or not self.reports else self.reports[0].time_increment

    def params(self, since: str, until: str) -> dict[str, Any]:
        """One request for the daily rows and every report: the union of their fields."""
        extra = [name for report in self.reports for name in report.fields]
        if self.base:
            fields = list(dict.fromkeys([*DEFAULT_INSIGHT_FIELDS, *VIDEO_FIELDS, *extra]))
            return insights_params(level=self.level, fields=fields, since=since, until=until)
        shape = self.reports[0]
        identity = LEVEL_IDS[: LEVELS.index(self.level) + 1]
        fields = list(dict.fromkeys([*identity, *extra, "attribution_setting"]))
        action_breakdowns = shape.action_breakdowns
        return insights_params(
            level=self.level,
            fields=fields,
            since=since,
            until=until,
            time_increment=shape.time_increment,
            breakdowns=shape.breakdowns,
            action_attribution_windows=tuple(
                dict.fromkeys(w for report in self.reports for w in report.attribution_windows)
            ),
            action_breakdowns=None if action_breakdowns == ("action_type",) else action_breakdowns,
        )


def target_of(spec: str, tenant_id: str) -> ReadTarget:
    """The read a subtask's edge suffix names (reports looked up for ``tenant_id``)."""
    level, _, names = spec.partition("@")
    reports = tuple(definitions(tenant_id, names.split(","))) if names else ()
    if level:
        return ReadTarget(level, True, reports)
    return ReadTarget(reports[0].level, False, reports)
