"""Beat's upkeep tasks: the hourly rewrite of every account's health record, the daily purge of
what is past its retention, and the alert check every few minutes."""

from __future__ import annotations

from typing import Any

from metasync.alerts import check_alerts
from metasync.health.records import refresh_health
from metasync.models import MetaConnection
from metasync.retention import purge_old_records
from workers.base import MetaSyncTask
from workers.context import context
from workers.tasks import metasync_task

__all__ = ["check_alerts_task", "purge_records", "refresh_all_health"]


@metasync_task("metasync.refresh_health", max_retries=3)
def refresh_all_health(self: MetaSyncTask) -> int:
    """Rewrite every tenant's health records (runs closing keep them current; this catches a
    change no run follows, such as a connection edited by hand). Returns the records."""
    return sum(refresh_health(t) for t in MetaConnection.objects.distinct("tenant_id"))


@metasync_task("metasync.purge_records", max_retries=3)
def purge_records(self: MetaSyncTask) -> dict[str, Any]:
    """Remove what is past its retention (metasync.retention)."""
    return purge_old_records(context().settings)


@metasync_task("metasync.check_alerts", max_retries=0)
def check_alerts_task(self: MetaSyncTask) -> dict[str, Any]:
    """Announce new and cleared problems (metasync.alerts); what could not be sent goes with
    the next check, so this task is never retried."""
    ctx = context()
    result = check_alerts(ctx.settings, ctx.redis, ctx.keys)
    return {"opened": len(result.opened), "cleared": len(result.cleared), "errors": result.errors}
