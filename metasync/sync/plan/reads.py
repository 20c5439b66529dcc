"""The subtasks of an insights read: a synchronous read a few pages a task, or an async report
job (:mod:`metasync.sync.read.report_jobs`), named by the read's spec
(:mod:`metasync.sync.shapes.targets`)."""

from __future__ import annotations

from datetime import date

from metasync.models import MetaConnection, SyncRun
from metasync.sync.subtasks import Subtask

__all__ = ["insights_subtask", "report_subtask"]


def report_subtask(
    run: SyncRun, connection: MetaConnection, account_id: str, spec: str, since: date, until: date
) -> Subtask:
    """An async job for the read ``spec`` names (see :mod:`metasync.sync.shapes.targets`)."""
    return insights_subtask(run, connection, account_id, spec, since, until, as_job=True)


def insights_subtask(
    run: SyncRun,
    connection: MetaConnection,
    account_id: str,
    spec: str,
    since: date,
    until: date,
    *,
    as_job: bool,
) -> Subtask:
    """The read ``spec`` names over since..until: an async job, or a synchronous read."""
    key = f"{run.pk}:{account_id}:{spec}:{since.isoformat()}:{until.isoformat()}"
    return Subtask(
        str(run.pk),
        str(connection.pk),
        account_id,
        f"{'report' if as_job else 'insights'}:{spec}",
        since=since.isoformat(),
        until=until.isoformat(),
        job_key=key if as_job else None,
    )
