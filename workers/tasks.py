"""The tasks. Each takes ids, re-reads its records, and calls plain functions in ``metasync``.

Names are stable (``metasync.<name>``) and arguments are ids and cursors only: readable in
Flower, and never a token.
"""

from __future__ import annotations

from typing import Any

from metasync.graph import RateLimitError
from metasync.models import ConnectionStatus, MetaConnection
from metasync.sync import Subtask, execute_subtask, start_entity_sync
from metasync.sync.orchestrate import MAX_COUNTDOWN_SECONDS
from metasync.sync.scheduling import claim_schedule_slot
from workers.app import app
from workers.base import MetaSyncTask
from workers.context import context

__all__ = ["fetch_edge", "schedule_syncs", "sync_connection"]

RATE_LIMIT_RETRIES = 100  # a throttled subtask waits its turn many times before giving up


@app.task(
    base=MetaSyncTask,
    name="metasync.schedule_syncs",
    bind=True,
    rate_limit="12/m",
    autoretry_for=MetaSyncTask.autoretry_for,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
)
def schedule_syncs(self: MetaSyncTask, kind: str = "entities") -> int:
    """Enqueue one ``sync_connection`` per ACTIVE connection, once per schedule slot (so two
    beat processes started by mistake do not double the work). Returns how many were queued."""
    ctx = context()
    interval = ctx.settings.META_SYNC_INTERVAL_MINUTES
    if not claim_schedule_slot(ctx.redis, ctx.keys, kind, interval):
        return 0
    queued = 0
    for connection in MetaConnection.objects(status=ConnectionStatus.ACTIVE).only("id"):
        sync_connection.delay(str(connection.pk), kind=kind, trigger="schedule")
        queued += 1
    return queued


@app.task(
    base=MetaSyncTask,
    name="metasync.sync_connection",
    bind=True,
    rate_limit="60/m",
    autoretry_for=MetaSyncTask.autoretry_for,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
)
def sync_connection(
    self: MetaSyncTask,
    connection_id: str,
    kind: str = "entities",
    trigger: str = "schedule",
    full: bool | None = None,
) -> dict[str, Any]:
    """Lock the connection, open its run and fan out the fetch subtasks."""
    try:
        start = start_entity_sync(
            context(), connection_id, trigger=trigger, full=full, request_id=self.request.id
        )
    except RateLimitError as exc:
        countdown = min(exc.retry_after, MAX_COUNTDOWN_SECONDS)
        raise self.retry(countdown=countdown, max_retries=RATE_LIMIT_RETRIES) from None
    for sub in start.subtasks:
        fetch_edge.delay(**sub.as_kwargs())
    return {"run_id": start.run_id, "status": start.status, "subtasks": len(start.subtasks)}


@app.task(
    base=MetaSyncTask,
    name="metasync.fetch_edge",
    bind=True,
    rate_limit="600/m",
    autoretry_for=MetaSyncTask.autoretry_for,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
)
def fetch_edge(
    self: MetaSyncTask,
    run_id: str,
    connection_id: str,
    account_id: str,
    edge: str,
    after: str | None = None,
) -> str:
    """Read a few pages of one edge of one account; continue long listings as a new task."""
    sub = Subtask(run_id, connection_id, account_id, edge, after)
    outcome = execute_subtask(
        context(),
        sub,
        final_attempt=self.final_attempt,
        may_wait=self.request.retries < RATE_LIMIT_RETRIES,
    )
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.countdown, max_retries=RATE_LIMIT_RETRIES)
    if outcome.follow_up is not None:
        fetch_edge.delay(**outcome.follow_up.as_kwargs())
    return outcome.status
