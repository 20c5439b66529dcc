"""Synchronous insights reads, a few pages per subtask.

Per ad account and level, one read covers every entity of that level (``level`` +
``time_increment=1`` on the account). Ranges up to ``META_INSIGHTS_SYNC_MAX_DAYS`` are read
synchronously; longer ones, and any synchronous read Meta times out, go through an async report
job (:mod:`metasync.sync.read.report_jobs`). Each page goes to ``write_page`` (the write stage's
insights writer, passed in by :mod:`metasync.sync.pipeline`) as soon as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from metasync.graph import GraphClient, read_insights
from metasync.models import MetaConnection
from metasync.sync.context import SyncContext
from metasync.sync.opt_in import record_answer, withheld_now
from metasync.sync.shapes.targets import ReadTarget
from metasync.sync.subtasks import IncompleteListing, Subtask

__all__ = [
    "INSIGHTS_PAGE_SIZE",
    "PAGES_PER_TASK",
    "ChunkResult",
    "InsightPageWriter",
    "read_insights_chunk",
]

INSIGHTS_PAGE_SIZE = 500  # rows per Graph page
PAGES_PER_TASK = 5  # pages one task reads before handing on (no task nears its time limit)

InsightPageWriter = Callable[[list[dict[str, Any]]], dict[str, int]]
"""Writes one page of a read's raw rows; returns rows written by level or report."""


@dataclass
class ChunkResult:
    next_after: str | None
    pages: int


def read_insights_chunk(
    ctx: SyncContext,
    client: GraphClient,
    connection: MetaConnection,
    sub: Subtask,
    target: ReadTarget,
    write_page: InsightPageWriter,
    on_page: Callable[[int, dict[str, int]], object],
) -> ChunkResult:
    """Up to five pages of a synchronous read of ``target``. ``InsightsTimeoutError``
    propagates: the caller turns the read into a report job."""
    every = ctx.settings.META_OPT_IN_RECHECK_HOURS
    if sub.after is None and withheld_now(
        connection.tenant_id, sub.account_id, target.reports, every
    ):
        return ChunkResult(None, 0)  # Meta withholds it from this account: found this run
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
        on_page(pages, write_page(page.items))
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
