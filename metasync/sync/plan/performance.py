"""Planning a performance run's reads of daily rows.

Per ad account and level, one read covers every entity of that level (``level`` +
``time_increment=1`` on the account). Ranges up to ``META_INSIGHTS_SYNC_MAX_DAYS`` are read
synchronously, a few pages per task; longer ones, and any synchronous read Meta times out, go
through an async report job (:mod:`metasync.sync.read.report_jobs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from metasync.models import AccountSyncState, MetaConnection, RunPlan, SyncRun, utcnow
from metasync.reports.store import enabled_reports
from metasync.sync.context import SyncContext
from metasync.sync.mirror import account_of
from metasync.sync.opt_in import not_due
from metasync.sync.periods import Period, account_today, resolve
from metasync.sync.plan.reads import insights_subtask
from metasync.sync.plan.report_plan import report_reads, shared_with_daily
from metasync.sync.shapes.targets import spec_of
from metasync.sync.subtasks import OLDER, RECENT, Subtask

__all__ = ["plan_performance"]


def plan_performance(
    ctx: SyncContext,
    run: SyncRun,
    connection: MetaConnection,
    accounts: list[str],
    states: Mapping[str, AccountSyncState],
    explicit: Period | None,
    levels: tuple[str, ...] | None = None,
) -> list[tuple[Subtask, int]]:
    """Subtasks per account and level, each with its rank: a synchronous read or a report job.
    Each account's days come from its own watermarks (initial, lookback or recent).

    An initial or lookback range is read in two pieces: yesterday and today (ranked
    :data:`~metasync.sync.subtasks.RECENT`) and the days before (ranked ``OLDER``), so under a
    backlog every account's recent days are read before any account's older ones. This costs
    one more read per account and level on those runs (once a day); recent and explicit
    ranges stay whole. The tenant's reports (:mod:`metasync.sync.plan.report_plan`) ride on these
    reads where their shape allows, else read after them (ranked ``OLDER``); an opt-in report
    an account has not opted in to is read only every ``META_OPT_IN_RECHECK_HOURS``
    (:mod:`metasync.sync.opt_in`).
    """
    settings, now = ctx.settings, utcnow()
    levels = levels or settings.META_INSIGHTS_LEVELS
    reports = enabled_reports(connection.tenant_id)
    shared = shared_with_daily(settings, reports, levels)
    riding = {name for names in shared.values() for name in names}
    own_reads = [report for report in reports if report.name not in riding]
    skipped = not_due(connection.tenant_id, accounts, now, settings.META_OPT_IN_RECHECK_HOURS)
    ranked: list[tuple[Subtask, int]] = []
    kinds: dict[str, str] = {}
    ranges: dict[str, list[str]] = {}
    for account_id in accounts:
        account = account_of(connection, account_id)
        zone = account.timezone_name if account else None
        today = account_today(zone, now)
        since, until, kind = resolve(settings, states[account_id], today, explicit, now, zone)
        kinds[account_id] = kind
        ranges[account_id] = [since.isoformat(), until.isoformat()]
        pieces = [(since, until, RECENT)]
        recent_start = today - timedelta(days=1)
        if kind in ("initial", "lookback") and since < recent_start <= until:
            pieces = [
                (recent_start, until, RECENT),
                (since, recent_start - timedelta(days=1), OLDER),
            ]
        for level in levels:
            spec = spec_of(level, shared.get(level, []))
            for first, last, rank in pieces:
                long = (last - first).days + 1 > settings.META_INSIGHTS_SYNC_MAX_DAYS
                read = insights_subtask(run, connection, account_id, spec, first, last, as_job=long)
                ranked.append((read, rank))
        due = [r for r in own_reads if r.name not in skipped.get(account_id, set())]
        for read in report_reads(
            settings, run, connection, account_id, due, kind, (since, until), today
        ):
            ranked.append((read, OLDER))
    by_kind: dict[str, list[str]] = {}  # kind -> accounts: a few keys, however many accounts
    for account_id, kind in kinds.items():
        by_kind.setdefault(kind, []).append(account_id)
    SyncRun.objects(pk=run.pk).update(
        set__period={
            "kind": next(iter(by_kind)) if len(by_kind) == 1 else "mixed",
            "levels": list(levels),
            "reports": [report.name for report in reports],
        }
    )
    RunPlan.record(run.pk, period_kinds=by_kind, ranges=ranges)
    return ranked
