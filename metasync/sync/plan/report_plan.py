"""Planning a run's report reads: which days each report reads, and which reads share one
request.

- A report whose shape is the daily rows' (level, no breakdowns, default action breakdown and
  windows, daily, the same lookback) rides on the daily read of its level: its fields are added
  to that request, which costs no call.
- Reports of one shape (the same level, breakdowns, action breakdowns, windows, increment and
  lookback) share one request with the union of their fields.
- Days: an explicit run reads its range; an initial or lookback run the report's own lookback
  (``lookback_days`` 0: Meta's 37 months); a recent run the recent days, except whole-range
  (``all_days``) reports, read on initial and lookback runs only (once a day), and over their
  own range on explicit runs. Weekly reports read Monday to Sunday and monthly ones whole
  months (up to today), so their rows always cover whole weeks and months.
- History limits per breakdown (Meta, 2026-01-12): hourly reports reach back 13 months and
  ``frequency_value`` 6, whatever the run asks.
- An hourly report reads one day per request (Meta's rule). A breakdown report that asks for
  reach from more than 13 months ago reads through an async job (the only way Meta serves it),
  as does any range longer than ``META_INSIGHTS_SYNC_MAX_DAYS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from metasync.config import Settings
from metasync.models import MetaConnection, SyncRun
from metasync.reports.catalogue import HISTORY_MONTHS, REACH_FIELDS, REACH_HISTORY_MONTHS
from metasync.reports.definitions import ReportDefinition
from metasync.sync.periods import retention_start
from metasync.sync.plan.reads import insights_subtask
from metasync.sync.shapes.targets import base_shape, spec_of
from metasync.sync.subtasks import Subtask

__all__ = ["history_start", "report_range", "report_reads", "shared_with_daily"]


def shared_with_daily(
    settings: Settings, reports: Sequence[ReportDefinition], levels: Sequence[str]
) -> dict[str, list[str]]:
    """level -> names of the reports that ride on that level's daily read."""
    shared: dict[str, list[str]] = {}
    for report in reports:
        if report.level in levels and report.request_shape() == base_shape(
            report.level, settings.META_INSIGHTS_LOOKBACK_DAYS
        ):
            shared.setdefault(report.level, []).append(report.name)
    return shared


def report_range(
    report: ReportDefinition, kind: str, since: date, until: date, today: date
) -> tuple[date, date] | None:
    """The days ``report`` reads on a run of ``kind`` whose daily rows read since..until.

    A report row keeps its period: weekly and monthly reads cover whole weeks and months (up
    to today), and a whole-range (``all_days``) report read on an explicit run reads its own
    range, so an explicit two-day run never overwrites a week's, a month's or a lifetime's row
    with two days' figures. Nothing older than the report's history limit is asked for.
    """
    oldest = retention_start(today)
    if kind == "recent" and report.time_increment == "all_days":
        return None
    whole_range = kind == "explicit" and report.time_increment == "all_days"
    if kind in ("initial", "lookback") or whole_range:
        since = oldest if report.lookback_days == 0 else today - timedelta(report.lookback_days)
    if whole_range:  # its one row is the report's whole range, never an explicit run's days
        until = today
    if report.time_increment == "7":
        since -= timedelta(days=since.weekday())
        until = min(today, until + timedelta(days=6 - until.weekday()))
    elif report.time_increment == "monthly":
        since = since.replace(day=1)
        until = min(today, until + relativedelta(day=31))  # the month's last day
    since = max(since, oldest, history_start(report, today))
    return (since, until) if since <= until else None


def history_start(report: ReportDefinition, today: date) -> date:
    """The oldest day Meta serves ``report``'s breakdowns (2026-01-12: hourly 13 months,
    ``frequency_value`` 6 months; 37 months otherwise, which ``retention_start`` applies)."""
    months = [HISTORY_MONTHS[name] for name in report.breakdowns if name in HISTORY_MONTHS]
    if not months:
        return date.min
    start: date = today - relativedelta(months=min(months))
    return start


def _needs_job(
    report: ReportDefinition, since: date, until: date, today: date, settings: Settings
) -> bool:
    if (until - since).days + 1 > settings.META_INSIGHTS_SYNC_MAX_DAYS:
        return True
    old_reach = since < today - relativedelta(months=REACH_HISTORY_MONTHS)
    return bool(report.breakdowns) and old_reach and any(f in REACH_FIELDS for f in report.fields)


def report_reads(
    settings: Settings,
    run: SyncRun,
    connection: MetaConnection,
    account_id: str,
    reports: Sequence[ReportDefinition],
    kind: str,
    period: tuple[date, date],
    today: date,
) -> list[Subtask]:
    """The reads of the reports not riding on a daily read, one request per shape (one per
    day for hourly reports)."""
    groups: dict[tuple[object, ...], list[ReportDefinition]] = {}
    for report in reports:
        groups.setdefault(report.request_shape(), []).append(report)
    reads: list[Subtask] = []
    for members in groups.values():
        first = members[0]
        days = report_range(first, kind, period[0], period[1], today)
        if days is None:
            continue
        spec = spec_of(None, [report.name for report in members])
        pieces = [days]
        if first.hourly:
            pieces = [(day, day) for day in _days(*days)]
        for since, until in pieces:
            job = any(_needs_job(report, since, until, today, settings) for report in members)
            reads.append(
                insights_subtask(run, connection, account_id, spec, since, until, as_job=job)
            )
    return reads


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
