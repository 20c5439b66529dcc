"""Daily performance rows: planning a run's reads, and synchronous reads a few pages a task.

Per ad account and level, one read covers every entity of that level (``level`` +
``time_increment=1`` on the account). Ranges up to ``META_INSIGHTS_SYNC_MAX_DAYS`` are read
synchronously, a few pages per task; longer ones, and any synchronous read Meta times out, go
through an async report job (:mod:`metasync.sync.report_jobs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from metasync.graph import GraphClient, insights_params, read_insights
from metasync.models import AccountSyncState, MetaConnection, RunPlan, SyncRun, utcnow
from metasync.reports.store import enabled_reports
from metasync.sync import window
from metasync.sync.context import SyncContext
from metasync.sync.insight_rows import INSIGHTS_PAGE_SIZE, PAGES_PER_TASK, account_of, write_rows
from metasync.sync.opt_in import not_due, record_answer, withheld_now
from metasync.sync.periods import Period, account_today, resolve
from metasync.sync.report_jobs import insights_subtask
from metasync.sync.report_plan import report_reads, shared_with_daily
from metasync.sync.subtasks import IncompleteListing, Subtask
from metasync.sync.targets import spec_of, target_of

__all__ = [
    "INSIGHTS_PAGE_SIZE",
    "plan_performance",
    "read_insights_chunk",
    "refresh_entity_insights",
]


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
    :data:`~metasync.sync.window.RECENT`) and the days before (ranked ``OLDER``), so under a
    backlog every account's recent days are read before any account's older ones. This costs
    one more read per account and level on those runs (once a day); recent and explicit
    ranges stay whole. The tenant's reports (:mod:`metasync.sync.report_plan`) ride on these
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
        pieces = [(since, until, window.RECENT)]
        recent_start = today - timedelta(days=1)
        if kind in ("initial", "lookback") and since < recent_start <= until:
            pieces = [
                (recent_start, until, window.RECENT),
                (since, recent_start - timedelta(days=1), window.OLDER),
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
            ranked.append((read, window.OLDER))
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


@dataclass
class ChunkResult:
    next_after: str | None
    pages: int


def read_insights_chunk(
    ctx: SyncContext,
    client: GraphClient,
    connection: MetaConnection,
    sub: Subtask,
    on_page: Callable[[int, dict[str, int]], object],
) -> ChunkResult:
    """Up to five pages of a synchronous insights read. ``InsightsTimeoutError`` propagates:
    the caller turns the read into a report job."""
    target = target_of(sub.edge.split(":", 1)[1], connection.tenant_id)
    every = ctx.settings.META_OPT_IN_RECHECK_HOURS
    if sub.after is None and withheld_now(
        connection.tenant_id, sub.account_id, target.reports, every
    ):
        return ChunkResult(None, 0)  # Meta withholds it from this account: found this run
    account = account_of(connection, sub.account_id)
    params = target.params(sub.since or "", sub.until or "")
    pages, items, last_after = 0, 0, None
    listing = read_insights(
        client,
        f"act_{sub.account_id}",
        params,
        account_id=sub.account_id,
        limit=INSIGHTS_PAGE_SIZE,
        after=sub.after,
    )
    for page in listing:
        pages += 1
        items += len(page.items)
        on_page(pages, target.write(ctx, connection, account, sub.account_id, page.items))
        last_after = page.after
        if pages >= PAGES_PER_TASK:
            break
    if listing.stopped_early:
        raise IncompleteListing(listing.stopped_early)
    finished = last_after is None or pages < PAGES_PER_TASK
    if sub.after is None and (finished or items):  # the read's first answer: opted in?
        record_answer(
            client,
            connection.tenant_id,
            sub.account_id,
            target.reports,
            date.fromisoformat(sub.since or ""),
            date.fromisoformat(sub.until or ""),
            items,
        )
    return ChunkResult(None if finished else last_after, pages)


def refresh_entity_insights(
    ctx: SyncContext,
    connection: MetaConnection,
    object_id: str,
    level: str,
    account_id: str,
    since: date,
    until: date,
) -> int:
    """Re-read one campaign's, ad set's or ad's daily rows for a range (webhooks, CLI).

    Returns the rows written. Errors propagate (typed): the caller decides what to record.
    """
    client = ctx.client_for(connection)
    account = account_of(connection, account_id)
    params = insights_params(level=level, since=since.isoformat(), until=until.isoformat())
    written = 0
    for page in read_insights(
        client, object_id, params, account_id=account_id, limit=INSIGHTS_PAGE_SIZE
    ):
        written += write_rows(ctx, connection, account, account_id, level, page.items)
    return written
