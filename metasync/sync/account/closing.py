"""Closing a run: releasing its connection's lock, advancing each account's watermarks by its
outcome, and recording the outcome on the connection; or abandoning a run that cannot go on."""

from __future__ import annotations

import logging
from typing import Any

from metasync.health.records import keep_health
from metasync.models import MetaConnection, RunStatus, SyncRun, utcnow
from metasync.sync.account.reconcile import reconcile_run
from metasync.sync.accounts import record_outcomes
from metasync.sync.context import SyncContext

__all__ = ["after_close", "interrupt"]

log = logging.getLogger(__name__)


def after_close(ctx: SyncContext, run: SyncRun) -> None:
    """Release the connection's lock, advance each account's watermarks by its outcome, and
    record the run's outcome on the connection."""
    ctx.sync_lock(run.connection_id, run.kind).release(str(run.pk))
    record_outcomes(run)
    updates: dict[str, Any] = {"set__updated_at": utcnow()}
    if run.status == RunStatus.SUCCEEDED and run.kind == "entities":
        updates["set__last_entity_sync_at"] = run.started_at
        if run.full:
            updates["set__last_full_sync_at"] = run.started_at
    if run.status == RunStatus.SUCCEEDED and run.kind == "performance":
        updates["set__last_performance_sync_at"] = run.started_at
        if (run.period or {}).get("kind") in ("initial", "lookback"):
            updates["set__last_lookback_at"] = run.started_at
    if run.errors and run.status != RunStatus.SKIPPED:
        last = run.errors[-1]
        updates["set__last_error"] = f"{last.get('type')}: {last.get('message')}"
        updates["set__last_error_at"] = utcnow()
    MetaConnection.objects(pk=run.connection_id).update(**updates)
    if run.kind == "performance" and run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
        _reconcile(run)
    keep_health(run.tenant_id, run.connection_id)
    log.info(
        "%s run %s of connection %s ended %s",
        run.kind,
        run.pk,
        run.connection_id,
        run.status,
        extra={"run_id": str(run.pk), "connection_id": run.connection_id},
    )


def _reconcile(run: SyncRun) -> None:
    """Reconcile the days the run read; a failure here is logged, never fails the run."""
    try:
        counts = reconcile_run(run)
    except Exception:
        log.exception("reconciling run %s failed", run.pk, extra={"run_id": str(run.pk)})
        return
    SyncRun.objects(pk=run.pk).update(set__reconciliation=counts)


def interrupt(
    ctx: SyncContext,
    run_id: str,
    error_type: str = "Interrupted",
    message: str = "the run was interrupted",
) -> None:
    """Close a run that its runner abandoned (Ctrl-C, SIGTERM, a lost start) as failed, and
    free the connection."""
    now = utcnow()
    updated = SyncRun.objects(pk=run_id, status=RunStatus.RUNNING).modify(
        new=True,
        set__status=RunStatus.FAILED,
        set__finished_at=now,
        push__errors={"type": error_type, "message": message, "at": now},
    )
    if updated is not None:
        ctx.sync_lock(updated.connection_id, updated.kind).release(run_id)
        keep_health(updated.tenant_id, updated.connection_id)
