"""Daily performance rows: planning a run's reads, and synchronous reads a few pages a task.

Per ad account and level, one read covers every entity of that level (``level`` +
``time_increment=1`` on the account). Ranges up to ``META_INSIGHTS_SYNC_MAX_DAYS`` are read
synchronously, a few pages per task; longer ones, and any synchronous read Meta times out, go
through an async report job (:mod:`metasync.sync.report_jobs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from metasync.graph import GraphClient, insights_params, read_insights
from metasync.models import AccountSyncState, MetaConnection, SyncRun, utcnow
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
) -> list[Subtask]:
    """One subtask per account and level: a synchronous read or a report job. Each account's
    days come from its own watermarks (initial, lookback or recent)."""
    settings, now = ctx.settings, utcnow()
    subtasks: list[Subtask] = []
    kinds: dict[str, str] = {}
    for account_id in accounts:
        account = account_of(connection, account_id)
        today = account_today(account.timezone_name if account else None, now)
        since, until, kind = resolve(settings, states[account_id], today, explicit, now)
        kinds[account_id] = kind
        days = (until - since).days + 1
        for level in levels or settings.META_INSIGHTS_LEVELS:
            if days <= settings.META_INSIGHTS_SYNC_MAX_DAYS:
                subtasks.append(
                    Subtask(
                        str(run.pk),
                        str(connection.pk),
                        account_id,
                        f"insights:{level}",
                        since=since.isoformat(),
                        until=until.isoformat(),
                    )
                )
            else:
                subtasks.append(report_subtask(run, connection, account_id, level, since, until))
    distinct = sorted(set(kinds.values()))
    SyncRun.objects(pk=run.pk).update(
        set__period={
            "kind": distinct[0] if len(distinct) == 1 else "mixed",
            "levels": list(levels or settings.META_INSIGHTS_LEVELS),
        },
        set__period_kinds=kinds,
    )
    run.period_kinds = kinds
    return subtasks


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
