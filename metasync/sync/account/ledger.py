"""The bookkeeping of one attempt at a subtask, in one place: what it cost (Graph calls,
retries, throttled seconds), what it wrote (a :class:`Tally`), the events it counts on its run
(report jobs, tombstones), and how it ends on its run: finished (counted out with its
follow-ups, releasing the next queued subtask, closing the run when it was the last), asked to
wait (a retry or a poll), or failed.

An attempt's cost is added once: with its finish when it finishes, else on its own when it
waits or raises (every attempt's calls really happened). What it wrote is added only with its
finish, so a subtask read again from its start after a worker died adds its pages once
(:mod:`metasync.sync.account.runs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metasync.graph import GraphClient
from metasync.models import SyncRun
from metasync.sync.account import runs, window
from metasync.sync.account.closing import after_close
from metasync.sync.context import SyncContext
from metasync.sync.subtasks import Outcome, Subtask, Tally

__all__ = ["Ledger", "handed_off"]


@dataclass
class Ledger:
    """One attempt at ``sub`` as its run ``run`` (read by the plan stage) will count it."""

    ctx: SyncContext
    sub: Subtask
    run: SyncRun | None
    client: GraphClient | None = None  # set once the attempt has a client: its cost counts
    tally: Tally = field(default_factory=Tally)  # what this attempt wrote
    settled: bool = False  # finished, or its cost added on its own

    def stats(self) -> dict[str, float] | None:
        return self.client.stats.as_dict() if self.client is not None else None

    def count_report_job(self, what: str) -> None:
        """A report job event, counted on the run when it happens."""
        runs.count_report_jobs(self.sub.run_id, what)

    def add_tombstones(self, kind: str, count: int) -> None:
        runs.add_tombstones(self.sub.run_id, kind, count)

    def charge(self) -> None:
        """Add what the attempt cost so far, unless its finish adds it (a retry, a poll, a
        raise)."""
        if self.client is not None and not self.settled:
            self.settled = True
            runs.add_call_stats(self.sub.run_id, self.client.stats.as_dict())

    def wait(self, outcome: Outcome) -> Outcome:
        """The subtask asks to run again after ``outcome.countdown`` seconds (throttled, or a
        report job still running): the run is not stalled before then."""
        runs.waiting(self.sub.run_id, outcome.countdown)
        return outcome

    def finish(
        self,
        status: str,
        error: dict[str, Any] | None = None,
        follow_ups: list[Subtask] | None = None,
    ) -> Outcome:
        """Count the subtask out with what it wrote and cost, hand off its follow-ups and, when
        it has none, release the next queued subtask of the run, in one update of the run."""
        self.settled = True
        sub, ctx = self.sub, self.ctx
        handoff = {follow.key: follow.as_record() for follow in follow_ups or []}
        counts = {**self.tally.increments, **runs.call_counts(self.stats())}
        done = runs.finish(
            sub.run_id,
            sub.key,
            error,
            handoff,
            counts,
            release_from=_release_position(self.run),
        )
        if done.closed is not None:
            after_close(ctx, done.closed)
        released = [Subtask.from_kwargs(arguments) for arguments in done.released]
        if done.release_skipped:
            released += window.release(sub.run_id, ctx.settings.SYNC_SUBTASKS_IN_FLIGHT, sub.key)
        return Outcome(status, follow_ups=[*(follow_ups or []), *released], closed=done.closed)


def handed_off(sub: Subtask) -> list[Subtask]:
    """A subtask delivered again after it finished: the follow-ups it handed off that are still
    in flight, to send again (reading Meta again might hand off different ones)."""
    return [Subtask.from_kwargs(a) for a in runs.handed_off(sub.run_id, sub.key)]


def _release_position(run: SyncRun | None) -> int | None:
    """Where the run's queue stood when the subtask read its run; None when nothing is left
    to release (then the finish does not look)."""
    if run is None or int(run.released or 0) >= int(run.queued or 0):
        return None
    return int(run.released or 0)
