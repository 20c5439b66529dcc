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
from metasync.sync import window
from metasync.sync.context import SyncContext
from metasync.sync.insight_rows import INSIGHTS_PAGE_SIZE, PAGES_PER_TASK, account_of, write_rows
from metasync.sync.periods import Period, account_today, resolve
from metasync.sync.report_jobs import report_subtask
from metasync.sync.subtasks import IncompleteListing, Subtask

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
    ranges stay whole.
    """
    settings, now = ctx.settings, utcnow()
    ranked: list[tuple[Subtask, int]] = []
    kinds: dict[str, str] = {}
    for account_id in accounts:
        account = account_of(connection, account_id)
        today = account_today(account.timezone_name if account else None, now)
        since, until, kind = resolve(settings, states[account_id], today, explicit, now)
        kinds[account_id] = kind
        pieces = [(since, until, window.RECENT)]
        recent_start = today - timedelta(days=1)
        if kind in ("initial", "lookback") and since < recent_start <= until:
            pieces = [
                (recent_start, until, window.RECENT),
                (since, recent_start - timedelta(days=1), window.OLDER),
            ]
        for level in levels or settings.META_INSIGHTS_LEVELS:
            for first, last, rank in pieces:
                ranked.append((_read(run, connection, account_id, level, first, last, ctx), rank))
    by_kind: dict[str, list[str]] = {}  # kind -> accounts: a few keys, however many accounts
    for account_id, kind in kinds.items():
        by_kind.setdefault(kind, []).append(account_id)
    SyncRun.objects(pk=run.pk).update(
        set__period={
            "kind": next(iter(by_kind)) if len(by_kind) == 1 else "mixed",
            "levels": list(levels or settings.META_INSIGHTS_LEVELS),
        }
    )
    RunPlan.record(run.pk, period_kinds=by_kind)
    return ranked


def _read(
    run: SyncRun,
    connection: MetaConnection,
    account_id: str,
    level: str,
    since: date,
    until: date,
    ctx: SyncContext,
) -> Subtask:
    """A synchronous read for ranges up to ``META_INSIGHTS_SYNC_MAX_DAYS``, else a job."""
    if (until - since).days + 1 > ctx.settings.META_INSIGHTS_SYNC_MAX_DAYS:
        return report_subtask(run, connection, account_id, level, since, until)
    return Subtask(
        str(run.pk),
        str(connection.pk),
        account_id,
        f"insights:{level}",
        since=since.isoformat(),
        until=until.isoformat(),
    )


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
    level = sub.edge.split(":", 1)[1]
    account = account_of(connection, sub.account_id)
    params = insights_params(level=level, since=sub.since, until=sub.until)
    pages, last_after = 0, None
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
        written = write_rows(ctx, connection, account, sub.account_id, level, page.items)
        on_page(pages, {level: written})
        last_after = page.after
        if pages >= PAGES_PER_TASK:
            break
    if listing.stopped_early:
        raise IncompleteListing(listing.stopped_early)
    finished = last_after is None or pages < PAGES_PER_TASK
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
