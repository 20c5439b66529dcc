"""A connection's sync, without Celery: the pieces, and the whole of it in one process.

Two kinds share this machinery: ``entities`` (campaigns, ad sets, ads, creatives) and
``performance`` (daily insights). The Celery tasks in ``workers/`` call :func:`start_sync`
(:mod:`metasync.sync.start`) and :func:`execute_subtask` (:mod:`metasync.sync.execute`); a run
closes itself (:mod:`metasync.sync.closing`). ``metasync sync --inline`` calls them in a loop
(:func:`run_inline`).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable

from metasync.models import SyncRun
from metasync.sync.closing import after_close, interrupt
from metasync.sync.context import SyncContext
from metasync.sync.execute import execute_subtask
from metasync.sync.periods import Period
from metasync.sync.start import KINDS, start_entity_sync, start_sync
from metasync.sync.subtasks import MAX_COUNTDOWN_SECONDS, StartResult, Subtask

__all__ = [
    "KINDS",
    "MAX_COUNTDOWN_SECONDS",
    "after_close",
    "execute_subtask",
    "interrupt",
    "run_inline",
    "start_entity_sync",
    "start_sync",
]


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
