"""The tasks. Each takes ids, re-reads its records, and calls plain functions in ``metasync``.

Names are stable (``metasync.<name>``) and arguments are ids, dates and cursors only: readable
in Flower, and never a token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.log import get_task_logger

from metasync.export import ExportBusy, ExportError
from metasync.export.targets import enabled_target, export_stored
from metasync.graph import RateLimitError
from metasync.models import ConnectionStatus, MetaConnection
from metasync.optimize.apply import apply_recommendation
from metasync.optimize.claims import ApplyBusy, stale_applies
from metasync.optimize.evaluate import evaluate_isolated, has_rules, tenants_with_rules
from metasync.optimize.settings import RecommendationError, approve_for_apply_mode
from metasync.sync import Period, Subtask, execute_subtask, start_sync
from metasync.sync.pipeline import MAX_COUNTDOWN_SECONDS
from metasync.sync.recovery import recover_stalled_runs
from metasync.sync.scheduling import claim_schedule_slot
from metasync.sync.token_health import check_tokens as check_connection_tokens
from metasync.sync.token_health import refresh_now
from metasync.webhooks import Change
from metasync.webhooks.recovery import recover_stalled_webhooks
from workers.app import app
from workers.base import MetaSyncTask
from workers.context import context

__all__ = [
    "apply_change",
    "check_tokens",
    "enqueue_webhook_change",
    "evaluate_rules",
    "export_warehouse",
    "fetch_edge",
    "fetch_insights",
    "recover_runs",
    "schedule_syncs",
    "sync_connection",
    "webhook_change",
]

log = get_task_logger(__name__)  # lines carry the task's name and id

RATE_LIMIT_RETRIES = 100  # a throttled subtask waits its turn many times before giving up
APPLY_BUSY_RETRIES = 20  # an apply waits this many times for another attempt's lease
# an export's hard time limit (its soft one 5 minutes less): long enough for a large first
# export to a cloud warehouse, below the broker's visibility timeout (2 h, celeryconfig) so a
# running export is never handed to a second worker
EXPORT_TIME_LIMIT_SECONDS = 100 * 60
EXPORT_BUSY_WAIT_SECONDS = 15  # an export that finds another one running looks again after


def metasync_task(name: str, **options: Any) -> Any:
    """``app.task`` with the delivery options every metasync task shares (``MetaSyncTask``:
    late acknowledgement, transient errors retried with jittered exponential backoff), bound,
    under a stable ``name``; ``options`` add a rate limit or change ``max_retries``."""
    return app.task(
        base=MetaSyncTask,
        name=name,
        bind=True,
        autoretry_for=MetaSyncTask.autoretry_for,
        retry_backoff=True,
        retry_jitter=True,
        **options,
    )


@metasync_task("metasync.schedule_syncs", rate_limit="12/m", max_retries=3)
def schedule_syncs(self: MetaSyncTask, kind: str = "entities") -> int:
    """Enqueue one ``sync_connection`` per ACTIVE connection, once per schedule slot (so two
    beat processes started by mistake do not double the work). Returns how many were queued."""
    ctx = context()
    interval = (
        ctx.settings.PERFORMANCE_SYNC_INTERVAL_MINUTES
        if kind == "performance"
        else ctx.settings.META_SYNC_INTERVAL_MINUTES
    )
    if not claim_schedule_slot(ctx.redis, ctx.keys, kind, interval):
        return 0
    queued = 0
    for connection in MetaConnection.objects(status=ConnectionStatus.ACTIVE).only("id"):
        sync_connection.delay(str(connection.pk), kind=kind, trigger="schedule")
        queued += 1
    return queued


def enqueue(sub: Subtask) -> None:
    """Send a subtask to its task: insights reads and report jobs, or entity edges."""
    (fetch_insights if sub.is_insights else fetch_edge).delay(**sub.as_kwargs())


@metasync_task("metasync.sync_connection", rate_limit="60/m", max_retries=8)
def sync_connection(
    self: MetaSyncTask,
    connection_id: str,
    kind: str = "entities",
    trigger: str = "schedule",
    full: bool | None = None,
    period: dict[str, str | None] | None = None,
    levels: list[str] | None = None,
) -> dict[str, Any]:
    """Lock the connection, open its run and fan out the subtasks."""
    try:
        start = start_sync(
            context(),
            connection_id,
            kind=kind,
            trigger=trigger,
            full=full,
            request_id=self.request.id,
            period=Period.from_dict(period),
            levels=tuple(levels) if levels else None,
        )
    except RateLimitError as exc:
        countdown = min(exc.retry_after, MAX_COUNTDOWN_SECONDS)
        raise self.retry(countdown=countdown, max_retries=RATE_LIMIT_RETRIES) from None
    for sub in start.subtasks:
        enqueue(sub)
    return {"run_id": start.run_id, "status": start.status, "subtasks": len(start.subtasks)}


@metasync_task("metasync.check_tokens", max_retries=3)
def check_tokens(self: MetaSyncTask) -> dict[str, int]:
    """Once a day: refresh user tokens near expiry, flag connections whose token or data
    access ends within 7 days (see metasync.sync.token_health)."""
    checks = check_connection_tokens(context())
    return {
        "checked": len(checks),
        "refreshed": sum(c.refreshed for c in checks),
        "warnings": sum(c.warning is not None for c in checks),
    }


@metasync_task("metasync.refresh_token", max_retries=3)
def refresh_token(self: MetaSyncTask, connection_id: str) -> dict[str, str]:
    """Exchange a connection's user token for a fresh long-lived one now (an operator's
    "refresh token"), recording Meta's answer about it (metasync.sync.token_health)."""
    return refresh_now(context(), connection_id)


@metasync_task("metasync.recover_runs", max_retries=3)
def recover_runs(self: MetaSyncTask) -> int:
    """Queue again the unfinished subtasks of runs that stalled, and webhook changes whose task
    was lost (see metasync.sync.recovery). Returns how many tasks were queued."""
    ctx = context()
    subtasks = sum(r.queued for r in recover_stalled_runs(ctx, enqueue))
    applies = stale_applies(ctx.settings.OPTIMIZER_LEASE_SECONDS)
    for rec in applies:  # a worker died holding the lease, or a task stopped mid-plan
        apply_change.delay(tenant_id=rec.tenant_id, recommendation_id=str(rec.pk))
    return subtasks + len(applies) + recover_stalled_webhooks(ctx, enqueue_webhook_change)


@metasync_task("metasync.evaluate_rules", max_retries=3)
def evaluate_rules(
    self: MetaSyncTask,
    schedule_name: str = "optimizer",
    interval_minutes: int = 0,
    kinds: list[str] | None = None,
    tenant_id: str | None = None,
) -> dict[str, int]:
    """Evaluate the optimization rules (of ``kinds``, default all) of one tenant, or of every
    tenant whose optimizer is on; a scheduled call claims its slot first so that a second beat
    process adds nothing. Returns new and already-known recommendations."""
    ctx = context()
    if interval_minutes and not claim_schedule_slot(
        ctx.redis, ctx.keys, f"rules-{schedule_name}", interval_minutes
    ):
        return {"proposed": 0, "known": 0}
    chosen = tuple(kinds) if kinds else None
    totals = {"proposed": 0, "known": 0}
    for tenant in [tenant_id] if tenant_id else tenants_with_rules():
        result = evaluate_isolated(tenant, kinds=chosen)
        if result is None:  # recorded on the tenant's settings; the other tenants go on
            totals["failed"] = totals.get("failed", 0) + 1
            continue
        totals["proposed"] += len(result.proposed)
        totals["known"] += result.known
        pending = result.proposed + result.confirmed  # what today's evidence still supports
        for approved in approve_for_apply_mode(tenant, pending):
            apply_change.delay(tenant_id=tenant, recommendation_id=approved)
    return totals


@metasync_task("metasync.apply_recommendation", max_retries=5)
def apply_change(self: MetaSyncTask, tenant_id: str, recommendation_id: str) -> dict[str, Any]:
    """Write one approved recommendation to Meta within the guards (once, however often the
    message is delivered: see metasync.optimize.apply). Another attempt's lease: try again when
    it expires; a time limit: try again soon (the plan resumes from Meta's values)."""
    try:
        rec = apply_recommendation(
            context(),
            tenant_id,
            recommendation_id,
            by="optimizer",
            final_attempt=self.final_attempt,
        )
    except ApplyBusy as exc:
        raise self.retry(countdown=exc.retry_in, max_retries=APPLY_BUSY_RETRIES) from None
    except SoftTimeLimitExceeded:
        raise self.retry(countdown=5) from None
    except RecommendationError as exc:
        log.warning("recommendation %s not applied: %s", recommendation_id, exc)
        return {"state": "refused", "error": str(exc)}
    return {"state": rec.state, "error": rec.error or ""}


def enqueue_webhook_change(change: Change, key: str) -> None:
    webhook_change.delay(key=key, **change.as_kwargs())


def _run_subtask(task: MetaSyncTask, sub: Subtask) -> str:
    outcome = execute_subtask(
        context(),
        sub,
        final_attempt=task.final_attempt,
        may_wait=task.request.retries < RATE_LIMIT_RETRIES,
    )
    log.info(
        "subtask %s of run %s: %s, %d follow-ups",
        sub.key,
        sub.run_id,
        outcome.status,
        len(outcome.follow_ups),
        extra={"run_id": sub.run_id},
    )
    if outcome.status == "retry":
        raise task.retry(countdown=outcome.countdown, max_retries=RATE_LIMIT_RETRIES)
    if outcome.status == "poll":  # a fresh message: polls never use up the task's retries
        fetch_insights.apply_async(kwargs=sub.as_kwargs(), countdown=outcome.countdown)
        return outcome.status
    for follow_up in outcome.follow_ups:
        enqueue(follow_up)
    closed = outcome.closed
    if closed is not None and closed.kind == "performance" and has_rules(closed.tenant_id):
        evaluate_rules.delay(tenant_id=closed.tenant_id)  # fresh daily rows: rules see them now
    if closed is not None and enabled_target(closed.tenant_id) is not None:
        export_warehouse.delay(tenant_id=closed.tenant_id)  # the warehouse follows the mirror
    return outcome.status


@metasync_task(
    "metasync.export_warehouse",
    max_retries=5,
    time_limit=EXPORT_TIME_LIMIT_SECONDS,
    soft_time_limit=EXPORT_TIME_LIMIT_SECONDS - 300,
)
def export_warehouse(self: MetaSyncTask, tenant_id: str) -> dict[str, Any]:
    """Export one tenant to its stored destination (the URL stays encrypted in MongoDB: only
    the tenant id travels). Another export holding the destination: look again soon (its
    lease ends when it finishes). A failure is recorded on the export's run and tried again
    with backoff.

    Its time limit is :data:`EXPORT_TIME_LIMIT_SECONDS`, not the 600 s of other tasks: a
    first export to BigQuery or Snowflake pays a few statements of a second or more per batch
    of 5,000 rows (a million rows: about 200 batches, 10 to 30 minutes). An export stopped by
    the limit loses nothing committed: the retry resumes from its last batch."""
    ctx = context()
    try:
        result = export_stored(ctx.cipher, ctx.settings, tenant_id)
    except ExportBusy as exc:
        # the lease ends when the other export finishes, usually long before it would expire
        countdown = min(exc.retry_after, EXPORT_BUSY_WAIT_SECONDS)
        raise self.retry(countdown=countdown, max_retries=APPLY_BUSY_RETRIES) from None
    except ExportError as exc:
        log.warning("%s", exc)
        raise self.retry(countdown=60 * 2**self.request.retries) from None
    if result is None:
        return {"status": "no destination"}
    return {
        "status": "succeeded",
        "rows": sum(result.rows.values()),
        "rows_not_written": result.rejected_count,  # named on the run; retrying cannot help
        "run_id": result.run_id,
    }


@metasync_task("metasync.fetch_edge", rate_limit="600/m", max_retries=8)
def fetch_edge(
    self: MetaSyncTask,
    run_id: str,
    connection_id: str,
    account_id: str,
    edge: str,
    after: str | None = None,
    since: str | None = None,
    until: str | None = None,
    **_: str | None,
) -> str:
    """Read a few pages of one entity edge of one account (``since``: the ``updated_time`` to
    read from, ``until="full"``: the whole edge, then tombstones); long listings continue as a
    new task."""
    return _run_subtask(self, Subtask(run_id, connection_id, account_id, edge, after, since, until))


@metasync_task("metasync.fetch_insights", rate_limit="600/m", max_retries=8)
def fetch_insights(
    self: MetaSyncTask,
    run_id: str,
    connection_id: str,
    account_id: str,
    edge: str,
    after: str | None = None,
    since: str | None = None,
    until: str | None = None,
    job_key: str | None = None,
) -> str:
    """One step of a performance read: a few pages of a synchronous read, or one step of an
    async report job (start, poll, or a few pages of results)."""
    sub = Subtask(run_id, connection_id, account_id, edge, after, since, until, job_key)
    return _run_subtask(self, sub)


@metasync_task("metasync.webhook_change", rate_limit="600/m", max_retries=8)
def webhook_change(
    self: MetaSyncTask, key: str, account_id: str, time: int, field: str, value: dict[str, Any]
) -> str:
    """Refetch the object one webhook change names, and its recent performance."""
    from metasync.graph import MetaAPIError
    from metasync.models import WebhookEvent, WebhookStatus, utcnow
    from metasync.webhooks.process import process_change

    try:
        return process_change(context(), Change(account_id, time, field, value), key)
    except RateLimitError as exc:
        countdown = min(exc.retry_after, MAX_COUNTDOWN_SECONDS)
        WebhookEvent.objects(dedupe_key=key).update(  # waiting, not stalled
            set__queued_at=utcnow() + timedelta(seconds=countdown)
        )
        raise self.retry(countdown=countdown, max_retries=RATE_LIMIT_RETRIES) from None
    except MetaAPIError as exc:
        if exc.retryable and not self.final_attempt:
            raise
        WebhookEvent.objects(dedupe_key=key).update(
            set__status=WebhookStatus.FAILED, set__detail=str(exc)
        )
        return WebhookStatus.FAILED
