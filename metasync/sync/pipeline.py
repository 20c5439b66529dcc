"""A subtask as a pipeline of four stages, and a whole sync in one process.

Each stage is a package of ``metasync.sync`` with one entry point that takes values and returns
values; only this module (and the run's start and recovery) wires them together:

1. **plan** (:mod:`metasync.sync.plan`): from the run's state, whether there is anything to do
   (the run is still running, the subtask still in flight, its connection active), and what to
   read with what (the run, the connection, the mirrored account, what an insights read is for).
2. **read** (:mod:`metasync.sync.read`): a few Graph pages of an account's edge or of an
   insights read, or one step of a report job's state machine (start, poll, page, split).
3. **write** (:mod:`metasync.sync.write`): each page as it arrives, one bulk upsert (entities,
   or daily rows and report rows under one write number). The read stage gets the writer as a
   function and never imports the write stage, so a page is written before the next is read.
4. **account** (:mod:`metasync.sync.account`): a :class:`~metasync.sync.account.ledger.Ledger`
   keeps what the attempt cost and wrote, and ends it on its run: finished (counted out with
   its follow-ups, the next queued subtask released, the run closed when it was the last),
   waiting (a retry or a report job's poll after a countdown), or failed.

:func:`execute_subtask` is that list of steps. Nothing here sleeps or knows about brokers: the
Celery tasks in ``workers/`` call :func:`~metasync.sync.start.start_sync` and
:func:`execute_subtask`; ``metasync sync --inline`` calls them in a loop (:func:`run_inline`).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from metasync.graph import GraphClient, InsightsTimeoutError
from metasync.models import MetaConnection, SyncRun
from metasync.sync.account.closing import after_close, interrupt
from metasync.sync.account.failures import settle_failure
from metasync.sync.account.ledger import Ledger, handed_off
from metasync.sync.context import SyncContext
from metasync.sync.periods import Period
from metasync.sync.plan.reads import report_subtask
from metasync.sync.plan.state import ReadPlan, plan_read, plan_subtask
from metasync.sync.read import report_jobs
from metasync.sync.read.edges import read_edge_chunk
from metasync.sync.read.insights import InsightPageWriter, read_insights_chunk
from metasync.sync.shapes.targets import ReadTarget
from metasync.sync.start import KINDS, start_entity_sync, start_sync
from metasync.sync.subtasks import (
    FULL,
    MAX_COUNTDOWN_SECONDS,
    IncompleteListing,
    Outcome,
    StartResult,
    Subtask,
)
from metasync.sync.write.entity_pages import write_entity_page
from metasync.sync.write.full_listing import tombstone_listing
from metasync.sync.write.insight_rows import write_insight_page

__all__ = [
    "KINDS",
    "MAX_COUNTDOWN_SECONDS",
    "after_close",
    "execute_subtask",
    "interrupt",
    "report_step",
    "run_inline",
    "start_entity_sync",
    "start_sync",
]


def execute_subtask(
    ctx: SyncContext, sub: Subtask, *, final_attempt: bool = True, may_wait: bool = True
) -> Outcome:
    """Run one subtask. Transient errors are re-raised unless ``final_attempt`` (Celery's
    autoretry takes them); a rate limit asks for a retry with a countdown unless ``may_wait`` is
    False (retries exhausted), when it is recorded as the subtask's failure."""
    # 1. plan: the run's state says whether there is anything to do, and with what
    planned = plan_subtask(sub)
    if planned.verdict == "run_over":
        return Outcome("gone")
    if planned.verdict == "redelivered":  # it finished before: send its follow-ups again
        return Outcome("done", follow_ups=handed_off(sub))
    ledger = Ledger(ctx, sub, planned.run)
    if planned.run is None or planned.connection is None:  # connection gone
        return ledger.finish("gone")  # the run already says why
    ctx.sync_lock(sub.connection_id, planned.run.kind).extend(sub.run_id)
    try:
        client = ledger.client = ctx.client_for(planned.connection)
        reading = plan_read(sub, planned.connection)
        # 2. read Meta's pages and 3. write each as it arrives
        outcome = _read_and_write(ctx, client, ledger, planned.run, planned.connection, reading)
    except Exception as exc:  # noqa: BLE001 - every error ends on the run (unexpected ones logged)
        # 4. account for an error: a retry after a countdown, the task's retry, or a failure
        return settle_failure(ledger, exc, final_attempt=final_attempt, may_wait=may_wait)
    except BaseException:
        ledger.charge()  # interrupted: what the attempt cost so far
        raise
    # 4. account: a report job polls again later, or the subtask is counted out (its
    # follow-ups handed off, the next queued subtask released, the run closed if it was last)
    if outcome.status == "poll":
        ledger.charge()
        return ledger.wait(outcome)
    return ledger.finish(outcome.status, follow_ups=outcome.follow_ups)


def _read_and_write(
    ctx: SyncContext,
    client: GraphClient,
    ledger: Ledger,
    run: SyncRun,
    connection: MetaConnection,
    reading: ReadPlan,
) -> Outcome:
    """Steps 2 and 3: the read ``ledger.sub`` names, with the write stage's writer for its
    pages; what was written goes to the ledger's tally. Returns what comes next (``done`` with
    follow-ups, or ``poll``); no finishing here."""
    sub, target = ledger.sub, reading.target
    if target is not None:
        write_rows = _insights_writer(ctx, connection, sub.account_id, reading, target)
        if sub.edge.startswith("report:"):
            step = report_jobs.report_step(
                ctx,
                client,
                connection,
                sub,
                target=target,
                write_page=write_rows,
                count=ledger.count_report_job,
            )
            if step.status == "poll":
                return Outcome("poll", countdown=step.countdown)
            ledger.tally.add(step.written)
            return Outcome("done", follow_ups=step.follow_ups)
        try:
            chunk = read_insights_chunk(
                ctx,
                client,
                connection,
                sub,
                target,
                write_rows,
                on_page=lambda _, counts: ledger.tally.page("rows", counts),
            )
        except InsightsTimeoutError:  # too long for a synchronous read: a report job instead
            since, until = date.fromisoformat(sub.since or ""), date.fromisoformat(sub.until or "")
            spec = sub.edge.split(":", 1)[1]
            job = report_subtask(run, connection, sub.account_id, spec, since, until)
            return Outcome("done", follow_ups=[job])
        return _continue(sub, chunk.next_after)
    currency = reading.account.currency if reading.account else None

    def write_entities(edge: str, items: list[dict[str, Any]]) -> dict[str, int]:
        return write_entity_page(
            edge,
            items,
            tenant_id=connection.tenant_id,
            account_id=sub.account_id,
            currency=currency,
            run_id=sub.run_id,
        )

    result = read_edge_chunk(
        client,
        account_id=sub.account_id,
        edge=sub.edge,
        since=datetime.fromisoformat(sub.since) if sub.since else None,
        after=sub.after,
        write_page=write_entities,
        on_page=lambda _, counts: ledger.tally.page("entities", counts),
    )
    if result.stopped_early:  # what it read is kept; nothing is concluded from what it did not
        raise IncompleteListing(f"{result.stopped_early}: no tombstones for this edge")
    if result.next_after:
        return _continue(sub, result.next_after)
    if sub.until == FULL:
        tombstone_listing(ctx, client, connection, sub, currency, ledger.add_tombstones)
    return Outcome("done")


def _insights_writer(
    ctx: SyncContext,
    connection: MetaConnection,
    account_id: str,
    reading: ReadPlan,
    target: ReadTarget,
) -> InsightPageWriter:
    """The write stage's writer for pages of ``target``'s read of account ``account_id`` (the
    mirrored account read with the first page)."""

    def write_rows(items: list[dict[str, Any]]) -> dict[str, int]:
        return write_insight_page(target, ctx, connection, reading.account, account_id, items)

    return write_rows


def _continue(sub: Subtask, after: str | None) -> Outcome:
    """Done with this chunk; a listing that goes on continues from ``after`` as a new subtask."""
    if after is None:
        return Outcome("done")
    follow = Subtask(
        sub.run_id, sub.connection_id, sub.account_id, sub.edge, after, sub.since, sub.until
    )
    return Outcome("done", follow_ups=[follow])


def report_step(
    ctx: SyncContext, client: GraphClient, connection: MetaConnection, sub: Subtask
) -> report_jobs.JobStep:
    """One step of ``sub``'s report job outside :func:`execute_subtask` (no finishing), wired
    to the write stage and to the run's counters as the pipeline wires it."""
    reading = plan_read(sub, connection)
    if reading.target is None:
        raise ValueError(f"{sub.edge} is not a report job's read")
    return report_jobs.report_step(
        ctx,
        client,
        connection,
        sub,
        target=reading.target,
        write_page=_insights_writer(ctx, connection, sub.account_id, reading, reading.target),
        count=Ledger(ctx, sub, None).count_report_job,
    )


def run_inline(
    ctx: SyncContext,
    connection_id: str,
    *,
    kind: str = "entities",
    full: bool | None = None,
    trigger: str = "cli",
    period: Period | None = None,
    levels: tuple[str, ...] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[SyncRun], None] | None = None,
) -> StartResult:
    """Run a whole sync in this process (no broker), holding the same lock.

    Subtasks that ask to wait (throttled, or a report job still running) are put back with
    their countdown while the others go on; the runner sleeps only when nothing is ready.
    """
    start = start_sync(
        ctx, connection_id, kind=kind, trigger=trigger, full=full, period=period, levels=levels
    )
    queue: list[tuple[float, int, Subtask]] = []
    order = itertools.count()
    for sub in start.subtasks:
        heapq.heappush(queue, (clock(), next(order), sub))
    try:
        while queue:
            ready_at, _, sub = heapq.heappop(queue)
            if ready_at > clock():
                sleep(ready_at - clock())  # the CLI is not a worker: it may wait
            outcome = execute_subtask(ctx, sub)
            if outcome.status in ("retry", "poll"):
                heapq.heappush(queue, (clock() + outcome.countdown, next(order), sub))
            for follow_up in outcome.follow_ups:
                heapq.heappush(queue, (clock(), next(order), follow_up))
            if on_progress is not None and start.run_id:
                progress = SyncRun.objects(pk=start.run_id).first()
                if progress is not None:
                    on_progress(progress)
    except BaseException:
        if start.run_id:
            interrupt(ctx, start.run_id)
        raise
    return start
