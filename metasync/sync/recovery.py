"""Stalled runs and webhook changes: queue their lost tasks again.

Celery's Redis transport delivers at least once in every case but one: a worker killed between
popping a message off the queue (``BRPOP``) and recording it as unacknowledged loses that
message, and a run waiting for it would stay ``running`` until its lock expired. Beat therefore
runs :func:`recover_stalled_runs` every ``RUN_RECOVERY_INTERVAL_SECONDS``: a run that made no
progress for ``RUN_STALL_SECONDS`` past the end of any countdown its subtasks asked for (a
throttled call, a report job being polled) gets every subtask it counted in and not out queued
again, from the arguments its outbox recorded. Subtasks are safe to run twice, so a subtask that
was only slow costs a duplicate read, never a duplicate row. Webhook changes still ``queued``
that long are queued again the same way (:mod:`metasync.webhooks.recovery`).

Trade-off: ``RUN_STALL_SECONDS`` (15 minutes by default) is longer than Celery's longest
automatic retry backoff (10 minutes), so a healthy run is not re-queued while a transient error
is being retried; a lost subtask is noticed within ``RUN_STALL_SECONDS`` plus the check interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mongoengine.queryset.visitor import Q

from metasync.models import RunStatus, SyncRun, utcnow
from metasync.sync.account import runs, window
from metasync.sync.account.closing import after_close, interrupt
from metasync.sync.context import SyncContext
from metasync.sync.subtasks import Subtask

__all__ = ["Recovery", "recover_stalled_runs", "stalled_runs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovery:
    """What one check did to one run: subtasks queued again, and keys it could not queue."""

    run_id: str
    queued: int
    unrecoverable: list[str]


def stalled_runs(stall_seconds: float, now: datetime | None = None) -> list[SyncRun]:
    """Running runs with no progress for ``stall_seconds`` and no countdown still running."""
    cutoff = (now or utcnow()) - timedelta(seconds=stall_seconds)
    not_waiting = Q(wait_until=None) | Q(wait_until__lt=cutoff)
    # runs saved before progress was recorded count from their start
    idle = Q(progress_at__lt=cutoff) | (Q(progress_at=None) & Q(started_at__lt=cutoff))
    return list(SyncRun.objects(Q(status=RunStatus.RUNNING) & idle & not_waiting))


def recover_stalled_runs(
    ctx: SyncContext, send: Callable[[Subtask], object], now: datetime | None = None
) -> list[Recovery]:
    """Queue the unfinished subtasks of every stalled run with ``send``.

    Each run is claimed by moving its ``progress_at`` with a conditional update, so two checks
    at once (two beats) queue a run's subtasks once. Subtasks whose arguments were never recorded
    cannot be queued again: they are counted out with an error, so the run ends ``partial`` and
    says what was lost instead of staying ``running``.
    """
    now = now or utcnow()
    done: list[Recovery] = []
    for run in stalled_runs(ctx.settings.RUN_STALL_SECONDS, now):
        claimed = SyncRun.objects(pk=run.pk, progress_at=run.progress_at).update(
            set__progress_at=now
        )
        if not claimed:
            continue  # another check took it
        queued, lost = runs.unfinished(run)
        ctx.sync_lock(run.connection_id, run.kind).extend(str(run.pk))
        for arguments in queued:
            send(Subtask.from_kwargs(arguments))
        released = window.release(str(run.pk), ctx.settings.SYNC_SUBTASKS_IN_FLIGHT)
        for sub in released:  # the window narrowed (releases that kept racing): top it up
            send(sub)
        SyncRun.objects(pk=run.pk).update(inc__recovered=len(queued) + len(released))
        for key in lost:
            error = {
                "type": "SubtaskLost",
                "message": f"subtask {key} was lost and its arguments were not recorded",
                "at": now,
            }
            closed = runs.finish(str(run.pk), key, error).closed
            if closed is not None:
                after_close(ctx, closed)
            else:
                for sub in window.release(str(run.pk), ctx.settings.SYNC_SUBTASKS_IN_FLIGHT):
                    send(sub)
        if not run.planned:  # its start died before planning: nothing will ever finish it
            interrupt(ctx, str(run.pk), "StartLost", "the run's start was lost before planning")
        log.warning(
            "run %s of connection %s stalled: %d subtasks queued again, %d lost",
            run.pk,
            run.connection_id,
            len(queued),
            len(lost),
            extra={"run_id": str(run.pk), "connection_id": run.connection_id},
        )
        done.append(Recovery(str(run.pk), len(queued), lost))
    return done
