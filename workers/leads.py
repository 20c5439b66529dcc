"""The Lead Ads tasks: the scheduled lead sync of each connection and the daily erasure of
leads past ``LEAD_RETENTION_DAYS``. Arguments are connection ids only: no lead, answer or
person travels through the broker or shows in Flower."""

from __future__ import annotations

import uuid
from typing import Any

from metasync.leads.privacy import erase_expired
from metasync.leads.sync import sync_leads
from metasync.models import ConnectionStatus, MetaConnection, find_connection
from metasync.sync.scheduling import claim_schedule_slot
from workers.base import MetaSyncTask
from workers.context import context
from workers.tasks import metasync_task

__all__ = ["erase_expired_leads", "schedule_lead_syncs", "sync_connection_leads"]


@metasync_task("metasync.schedule_lead_syncs", rate_limit="12/m", max_retries=3)
def schedule_lead_syncs(self: MetaSyncTask) -> int:
    """Queue one lead sync per ACTIVE connection, once per LEAD_SYNC_INTERVAL_MINUTES slot."""
    ctx = context()
    if not claim_schedule_slot(
        ctx.redis, ctx.keys, "leads", ctx.settings.LEAD_SYNC_INTERVAL_MINUTES
    ):
        return 0
    queued = 0
    for connection in MetaConnection.objects(status=ConnectionStatus.ACTIVE).only("id"):
        sync_connection_leads.delay(str(connection.pk))
        queued += 1
    return queued


@metasync_task("metasync.sync_leads", rate_limit="60/m", max_retries=8)
def sync_connection_leads(
    self: MetaSyncTask, connection_id: str, full: bool = False
) -> dict[str, Any]:
    """Read one connection's lead forms and new leads (``full``: every lead again), one at a
    time per connection; returns counts and page ids only."""
    ctx = context()
    connection = find_connection(connection_id)
    if connection is None or connection.status != ConnectionStatus.ACTIVE:
        return {"skipped": "connection is not active"}
    lock = ctx.sync_lock(connection_id, "leads")
    token = uuid.uuid4().hex
    if not lock.acquire(token):
        return {"skipped": "another lead sync of this connection is running"}
    try:
        return sync_leads(ctx, connection, full=full).as_dict()
    finally:
        lock.release(token)


@metasync_task("metasync.erase_expired_leads", max_retries=3)
def erase_expired_leads(self: MetaSyncTask) -> dict[str, int]:
    """Erase the leads past LEAD_RETENTION_DAYS (recorded for every export destination)."""
    return {"erased": erase_expired(context().settings.LEAD_RETENTION_DAYS).count}
