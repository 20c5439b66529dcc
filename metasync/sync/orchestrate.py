"""A connection's entity sync: start (lock, token, run, fan-out) and subtasks, without Celery.

The Celery tasks in ``workers/`` call :func:`start_entity_sync` and :func:`execute_subtask`;
``metasync sync --inline`` calls them in a loop in-process (:func:`run_inline`). What a subtask
should happen next (done, continue with a follow-up, retry after a countdown) is returned as an
:class:`Outcome`, so no function here sleeps or knows about brokers.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bson import ObjectId

from metasync.crypto import CryptoError
from metasync.graph import (
    GraphClient,
    MetaAPIError,
    PermissionDeniedError,
    RateGovernorUnavailable,
    RateLimitError,
    TokenError,
    TransientError,
    get_many,
)
from metasync.models import (
    AdAccount,
    ConnectionStatus,
    MetaConnection,
    RunStatus,
    SyncRun,
    upsert_page,
    utcnow,
)
from metasync.sync import mapping, runs
from metasync.sync.connections import discover_accounts, mark_token_error, maybe_refresh_token
from metasync.sync.context import SyncContext
from metasync.sync.entities import EDGES, read_edge_chunk, tombstone

__all__ = [
    "MAX_COUNTDOWN_SECONDS",
    "Outcome",
    "StartResult",
    "Subtask",
    "execute_subtask",
    "run_inline",
    "start_entity_sync",
]

log = logging.getLogger(__name__)

MAX_COUNTDOWN_SECONDS = 3000.0  # below the lock TTL (3600 s) and the visibility timeout (7200 s)
ACCOUNT_FIELDS = [
    "id",
    "account_id",
    "name",
    "currency",
    "timezone_name",
    "account_status",
    "disable_reason",
    "amount_spent",
    "business{id,name}",
    "created_time",
]


@dataclass(frozen=True)
class Subtask:
    """One unit of fan-out work: ``edge`` of ``account_id`` from cursor ``after``."""

    run_id: str
    connection_id: str
    account_id: str
    edge: str
    after: str | None = None

    @property
    def key(self) -> str:
        return f"{self.account_id}:{self.edge}:{self.after or '-'}"

    def as_kwargs(self) -> dict[str, str | None]:
        """JSON-safe, secret-free task arguments (readable in Flower)."""
        return {
            "run_id": self.run_id,
            "connection_id": self.connection_id,
            "account_id": self.account_id,
            "edge": self.edge,
            "after": self.after,
        }


@dataclass
class StartResult:
    run_id: str | None
    status: str  # started | resumed | skipped | inactive | missing | failed | finished
    reason: str = ""
    subtasks: list[Subtask] = field(default_factory=list)


@dataclass
class Outcome:
    status: str  # done | failed | retry | gone
    countdown: float = 0.0
    follow_up: Subtask | None = None
    closed: SyncRun | None = None


def _error(
    sub: Subtask | None, exc: BaseException, account_id: str | None = None
) -> dict[str, Any]:
    record = (
        exc.as_record()
        if isinstance(exc, MetaAPIError)
        else {"type": type(exc).__name__, "message": str(exc)}
    )
    return {
        **record,
        "account_id": sub.account_id if sub else account_id,
        "edge": sub.edge if sub else None,
        "at": utcnow(),
    }


def _new_run(connection: MetaConnection, run_id: ObjectId, **values: Any) -> SyncRun:
    return SyncRun(
        id=run_id,
        connection_id=str(connection.pk),
        tenant_id=connection.tenant_id,
        kind="entities",
        **values,
    )


def start_entity_sync(
    ctx: SyncContext,
    connection_id: str,
    *,
    trigger: str = "schedule",
    full: bool | None = None,
    request_id: str | None = None,
) -> StartResult:
    """Lock the connection, refresh its token, open a run, read account details, fan out.

    With ``request_id`` (the Celery task id) a redelivered start resumes its own run instead of
    being refused by its own lock.
    """
    connection = MetaConnection.objects(pk=connection_id).first()
    if connection is None:
        return StartResult(None, "missing", f"connection {connection_id} does not exist")
    if request_id:
        existing = SyncRun.objects(request_id=request_id).first()
        if existing is not None:
            if existing.status != RunStatus.RUNNING:
                return StartResult(str(existing.pk), "finished", "this request already ran")
            ctx.sync_lock(connection_id).extend(str(existing.pk))
            return StartResult(
                str(existing.pk),
                "resumed",
                subtasks=_fan_out(existing, connection, existing.full == 1),
            )
    if connection.status != ConnectionStatus.ACTIVE:
        return StartResult(None, "inactive", f"connection is {connection.status}")
    run_id = ObjectId()
    lock = ctx.sync_lock(connection_id)
    if not lock.acquire(str(run_id)):
        now = utcnow()
        _new_run(
            connection,
            run_id,
            trigger=trigger,
            status=RunStatus.SKIPPED,
            finished_at=now,
            duration_ms=0,
            request_id=request_id,
            errors=[
                {
                    "type": "LockBusy",
                    "message": "another sync of this connection is "
                    f"running (run {lock.holder()}); skipped",
                    "at": now,
                }
            ],
        ).save()
        return StartResult(str(run_id), "skipped", "another sync of this connection is running")
    try:
        return _start_locked(ctx, connection, run_id, trigger, full, request_id)
    except BaseException:
        lock.release(str(run_id))
        raise


def _start_locked(
    ctx: SyncContext,
    connection: MetaConnection,
    run_id: ObjectId,
    trigger: str,
    full: bool | None,
    request_id: str | None,
) -> StartResult:
    settings, now = ctx.settings, utcnow()
    last_full, last_sync = connection.last_full_sync_at, connection.last_entity_sync_at
    is_full = (
        bool(full)
        or last_full is None
        or last_sync is None
        or (full is None and now - last_full > timedelta(hours=settings.META_FULL_SYNC_HOURS))
    )
    since = None if is_full else last_sync - timedelta(minutes=settings.META_SYNC_OVERLAP_MINUTES)
    run = _new_run(
        connection, run_id, trigger=trigger, full=int(is_full), since=since, request_id=request_id
    )
    run.save()
    client = None
    try:
        maybe_refresh_token(ctx, connection)
        client = ctx.client_for(connection)
        if not connection.ad_account_ids:
            connection.ad_account_ids = discover_accounts(client)
            connection.save()
        run.accounts = list(connection.ad_account_ids)
        run.save()
        details, failures = _read_accounts(client, connection.ad_account_ids)
        rows = [
            mapping.map_account(raw, connection.tenant_id, str(connection.pk)) for raw in details
        ]
        upsert_page(AdAccount, rows)
        runs.record_page(str(run_id), "accounts", {"accounts": len(rows)})
        for account_id, exc in failures:
            SyncRun.objects(pk=run_id).update(
                push__errors={**_error(None, exc, account_id), "edge": "account"}, inc__failed=1
            )
    except TokenError as exc:
        mark_token_error(str(connection.pk), exc)
        return _fail_start(ctx, run, exc)
    except CryptoError as exc:
        MetaConnection.objects(pk=connection.pk).update(
            set__status=ConnectionStatus.ERROR, set__status_reason=str(exc)
        )
        return _fail_start(ctx, run, exc)
    finally:
        if client is not None:
            runs.add_call_stats(str(run_id), client.stats.as_dict())
    unreadable = {account_id for account_id, _ in failures}
    subtasks = _fan_out(run, connection, is_full, skip=unreadable)
    if not subtasks:
        closed = runs.close_if_done(str(run_id))
        if closed is not None:
            after_close(ctx, closed)
    return StartResult(str(run_id), "started", subtasks=subtasks)


def _read_accounts(
    client: GraphClient, account_ids: list[str]
) -> tuple[list[dict[str, Any]], list[tuple[str, MetaAPIError]]]:
    """Account details in one multi-id call; when Meta refuses it (one account not readable),
    one call per account so the readable ones are still read and the others are named."""
    try:
        found = get_many(client, [f"act_{a}" for a in account_ids], ACCOUNT_FIELDS)
        return list(found.values()), []
    except (TokenError, RateLimitError, TransientError):
        raise
    except MetaAPIError:
        pass
    rows: list[dict[str, Any]] = []
    failures: list[tuple[str, MetaAPIError]] = []
    for account_id in account_ids:
        try:
            rows.append(client.get(f"act_{account_id}", {"fields": ",".join(ACCOUNT_FIELDS)}).body)
        except (TokenError, RateLimitError, TransientError):
            raise
        except MetaAPIError as exc:
            failures.append((account_id, exc))
    return rows, failures


def _fail_start(ctx: SyncContext, run: SyncRun, exc: BaseException) -> StartResult:
    SyncRun.objects(pk=run.pk).update(push__errors=_error(None, exc), inc__failed=1)
    closed = runs.close_if_done(str(run.pk))
    if closed is not None:
        after_close(ctx, closed)
    return StartResult(str(run.pk), "failed", str(exc))


def _fan_out(
    run: SyncRun, connection: MetaConnection, full: bool, skip: set[str] | None = None
) -> list[Subtask]:
    edges = ["campaigns", "adsets", "ads"] + (["adcreatives"] if full else [])
    subtasks = [
        Subtask(str(run.pk), str(connection.pk), account, edge)
        for account in run.accounts
        if account not in (skip or set())
        for edge in edges
    ]
    runs.schedule(str(run.pk), [sub.key for sub in subtasks])
    return subtasks


def after_close(ctx: SyncContext, run: SyncRun) -> None:
    """Release the connection's lock and record the outcome on the connection."""
    ctx.sync_lock(run.connection_id).release(str(run.pk))
    updates: dict[str, Any] = {"set__updated_at": utcnow()}
    if run.status == RunStatus.SUCCEEDED and run.kind == "entities":
        updates["set__last_entity_sync_at"] = run.started_at
        if run.full:
            updates["set__last_full_sync_at"] = run.started_at
    if run.errors and run.status != RunStatus.SKIPPED:
        last = run.errors[-1]
        updates["set__last_error"] = f"{last.get('type')}: {last.get('message')}"
        updates["set__last_error_at"] = utcnow()
    MetaConnection.objects(pk=run.connection_id).update(**updates)
    log.info(
        "run %s of connection %s ended %s",
        run.pk,
        run.connection_id,
        run.status,
        extra={"run_id": str(run.pk), "connection_id": run.connection_id},
    )


def _finish(ctx: SyncContext, sub: Subtask, error: dict[str, Any] | None = None) -> SyncRun | None:
    closed = runs.finish(sub.run_id, sub.key, error)
    if closed is not None:
        after_close(ctx, closed)
    return closed


def execute_subtask(
    ctx: SyncContext, sub: Subtask, *, final_attempt: bool = True, may_wait: bool = True
) -> Outcome:
    """Read one chunk of an edge. Transient errors are re-raised unless ``final_attempt``
    (Celery's autoretry takes them); a rate limit asks for a retry with a countdown unless
    ``may_wait`` is False (retries exhausted), when it is recorded as the subtask's failure."""
    run = SyncRun.objects(pk=sub.run_id).first()
    if run is None or run.status != RunStatus.RUNNING:
        return Outcome("gone")
    connection = MetaConnection.objects(pk=sub.connection_id).first()
    if connection is None or connection.status != ConnectionStatus.ACTIVE:
        return Outcome("gone", closed=_finish(ctx, sub))  # the run already says why
    ctx.sync_lock(sub.connection_id).extend(sub.run_id)
    account = AdAccount.objects(
        tenant_id=connection.tenant_id, meta_id=f"act_{sub.account_id}"
    ).first()
    client = None
    try:
        client = ctx.client_for(connection)
        result = read_edge_chunk(
            client,
            tenant_id=connection.tenant_id,
            account_id=sub.account_id,
            currency=account.currency if account else None,
            edge=sub.edge,
            since=run.since,
            after=sub.after,
            on_page=lambda number, counts: runs.record_page(
                sub.run_id, f"{sub.key}:{number}", counts
            ),
        )
    except RateLimitError as exc:
        if client is not None and exc.scope != "governor":
            client.stats.throttled_seconds += exc.retry_after
        if may_wait:
            return Outcome("retry", countdown=min(exc.retry_after, MAX_COUNTDOWN_SECONDS))
        return Outcome("failed", closed=_finish(ctx, sub, _error(sub, exc)))
    except TokenError as exc:
        mark_token_error(sub.connection_id, exc)
        return Outcome("failed", closed=_finish(ctx, sub, _error(sub, exc)))
    except (TransientError, RateGovernorUnavailable) as exc:
        if not final_attempt:
            raise
        return Outcome("failed", closed=_finish(ctx, sub, _error(sub, exc)))
    except (MetaAPIError, CryptoError) as exc:
        if isinstance(exc, CryptoError):
            MetaConnection.objects(pk=sub.connection_id).update(
                set__status=ConnectionStatus.ERROR, set__status_reason=str(exc)
            )
        elif isinstance(exc, PermissionDeniedError):
            log.warning(
                "permission denied on %s of account %s: %s",
                sub.edge,
                sub.account_id,
                exc.message,
                extra={"run_id": sub.run_id},
            )
        return Outcome("failed", closed=_finish(ctx, sub, _error(sub, exc)))
    finally:
        if client is not None:
            runs.add_call_stats(sub.run_id, client.stats.as_dict())
    follow_up = None
    if result.next_after:
        follow_up = Subtask(
            sub.run_id, sub.connection_id, sub.account_id, sub.edge, result.next_after
        )
        runs.schedule(sub.run_id, [follow_up.key])
    elif run.full:
        spec = EDGES[sub.edge]
        marked = tombstone(spec.model, connection.tenant_id, sub.account_id, run.started_at)
        runs.add_tombstones(sub.run_id, sub.edge, marked)
    return Outcome("done", follow_up=follow_up, closed=_finish(ctx, sub))


def run_inline(
    ctx: SyncContext,
    connection_id: str,
    *,
    full: bool | None = None,
    trigger: str = "cli",
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[SyncRun], None] | None = None,
) -> StartResult:
    """Run a whole entity sync in this process (no broker), holding the same lock."""
    start = start_entity_sync(ctx, connection_id, trigger=trigger, full=full)
    queue = deque(start.subtasks)
    try:
        while queue:
            sub = queue.popleft()
            outcome = execute_subtask(ctx, sub)
            if outcome.status == "retry":
                sleep(outcome.countdown)  # the CLI is not a worker: it may wait
                queue.append(sub)
            elif outcome.follow_up is not None:
                queue.appendleft(outcome.follow_up)
            if on_progress is not None and start.run_id:
                progress = SyncRun.objects(pk=start.run_id).first()
                if progress is not None:
                    on_progress(progress)
    except BaseException:
        if start.run_id:
            interrupt(ctx, start.run_id)
        raise
    return start


def interrupt(ctx: SyncContext, run_id: str) -> None:
    """Close a run that its runner abandoned (Ctrl-C, SIGTERM) and free the connection."""
    now = utcnow()
    updated = SyncRun.objects(pk=run_id, status=RunStatus.RUNNING).modify(
        new=True,
        set__status=RunStatus.FAILED,
        set__finished_at=now,
        push__errors={"type": "Interrupted", "message": "the run was interrupted", "at": now},
    )
    if updated is not None:
        ctx.sync_lock(updated.connection_id).release(run_id)
