"""Starting a connection's sync: lock, token, accounts (discovered, read, unreadable ones set
aside), the run, and its subtasks, each account planned from its own watermarks."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from metasync.crypto import CryptoError
from metasync.graph import (
    GraphClient,
    InvalidRequestError,
    MetaAPIError,
    PermissionDeniedError,
    RateLimitError,
    TokenError,
    read_each,
)
from metasync.models import (
    AccountSyncState,
    AdAccount,
    ConnectionStatus,
    MetaConnection,
    RunPlan,
    RunStatus,
    SyncRun,
    upsert_page,
    utcnow,
)
from metasync.sync.account import runs, window
from metasync.sync.account.closing import after_close, interrupt
from metasync.sync.accounts import (
    account_states,
    accounts_to_read,
    active_ads,
    mark_readable,
    mark_unreadable,
    rediscover,
)
from metasync.sync.connections import mark_token_error, maybe_refresh_token
from metasync.sync.context import SyncContext
from metasync.sync.periods import Period
from metasync.sync.plan import performance
from metasync.sync.shapes import mapping
from metasync.sync.shapes.edges import LIBRARY_EDGES
from metasync.sync.subtasks import FULL, MAX_COUNTDOWN_SECONDS, StartResult, Subtask, error_record

__all__ = ["KINDS", "start_entity_sync", "start_sync"]

KINDS = ("entities", "performance")
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


def _new_run(connection: MetaConnection, run_id: ObjectId, kind: str, **values: Any) -> SyncRun:
    return SyncRun(
        id=run_id,
        connection_id=str(connection.pk),
        tenant_id=connection.tenant_id,
        kind=kind,
        **values,
    )


def start_entity_sync(ctx: SyncContext, connection_id: str, **kwargs: Any) -> StartResult:
    return start_sync(ctx, connection_id, kind="entities", **kwargs)


def start_sync(
    ctx: SyncContext,
    connection_id: str,
    *,
    kind: str = "entities",
    trigger: str = "schedule",
    full: bool | None = None,
    request_id: str | None = None,
    period: Period | None = None,
    levels: tuple[str, ...] | None = None,
) -> StartResult:
    """Lock the connection for ``kind``, refresh its token, open a run, read account details,
    and return the subtasks to run.

    With ``request_id`` (the Celery task id) a redelivered start resumes its own run instead of
    being refused by its own lock.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown sync kind {kind!r}; expected one of {KINDS}")
    connection = MetaConnection.objects(pk=connection_id).first()
    if connection is None:
        return StartResult(None, "missing", f"connection {connection_id} does not exist")
    if request_id:
        existing = SyncRun.objects(request_id=request_id).first()
        if existing is not None:
            if existing.status != RunStatus.RUNNING:
                return StartResult(str(existing.pk), "finished", "this request already ran")
            lock = ctx.sync_lock(connection_id, kind)
            if not (lock.extend(str(existing.pk)) or lock.acquire(str(existing.pk))):
                reason = f"another sync of this connection is running (run {lock.holder()})"
                interrupt(ctx, str(existing.pk), "LockBusy", reason)
                return StartResult(str(existing.pk), "skipped", reason)
            if not existing.planned:  # the first attempt failed before planning: start again
                return _start_locked(
                    ctx, connection, existing.pk, kind, trigger, full, request_id, period, levels
                )
            states = account_states(connection)
            return StartResult(
                str(existing.pk),
                "resumed",
                subtasks=_plan(
                    ctx,
                    existing,
                    connection,
                    states,
                    set(RunPlan.of(existing.pk).full_accounts),
                    period,
                    levels,
                ),
            )
    if connection.status != ConnectionStatus.ACTIVE:
        return StartResult(None, "inactive", f"connection is {connection.status}")
    # A redelivered start (its worker died after taking the lock, before saving the run) must
    # find the lock its own: the run id, which is the lock's token, derives from the task id.
    run_id = (
        ObjectId(hashlib.sha256(request_id.encode()).digest()[:12]) if request_id else ObjectId()
    )
    lock = ctx.sync_lock(connection_id, kind)
    if not lock.acquire(str(run_id)) and lock.holder() != str(run_id):
        now = utcnow()
        _new_run(
            connection,
            run_id,
            kind,
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
        return _start_locked(
            ctx, connection, run_id, kind, trigger, full, request_id, period, levels
        )
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM of an inline run while it starts
        interrupt(ctx, str(run_id))  # closed as failed, as in its subtasks: never left running
        lock.release(str(run_id))
        raise
    except BaseException:
        lock.release(str(run_id))
        raise


def _start_locked(
    ctx: SyncContext,
    connection: MetaConnection,
    run_id: ObjectId,
    kind: str,
    trigger: str,
    full: bool | None,
    request_id: str | None,
    period: Period | None,
    levels: tuple[str, ...] | None,
) -> StartResult:
    settings, now = ctx.settings, utcnow()
    run = _new_run(connection, run_id, kind, trigger=trigger, request_id=request_id)
    run.save()
    client = None
    try:
        maybe_refresh_token(ctx, connection)
        client = ctx.client_for(connection)
        _discover(ctx, client, connection, now)
        states = account_states(connection)
        every = timedelta(hours=settings.META_ACCOUNT_DISCOVERY_HOURS)
        usual, probe = accounts_to_read(connection, states, every, now)
        details, failures = _read_accounts(client, usual, probe)
        rows = [
            mapping.map_account(raw, connection.tenant_id, str(connection.pk)) for raw in details
        ]
        upsert_page(AdAccount, rows)
        runs.add_counts(str(run_id), {"entities.accounts": len(rows), "pages": 1})
        answered = {row["account_id"] for row in rows}
        mark_readable(str(connection.pk), [a for a in probe if a in answered])
        for account_id, exc in failures:
            if isinstance(exc, PermissionDeniedError | InvalidRequestError):
                mark_unreadable(str(connection.pk), account_id, exc)
            if account_id in probe:
                continue  # known to fail: recorded on its state, not on every run
            SyncRun.objects(pk=run_id).update(
                push__errors={**error_record(None, exc, account_id), "edge": "account"},
                inc__failed=1,
            )
        planned = [a for a in [*usual, *probe] if a in answered]
        ctx.governor.set_active_ads(active_ads(connection.tenant_id, planned))
        RunPlan.record(run_id, accounts=planned)
    except RateLimitError as exc:  # the start task retries after the wait: not stalled
        runs.waiting(str(run_id), min(exc.retry_after, MAX_COUNTDOWN_SECONDS))
        raise
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
    forced = set(planned) if full else set()
    subtasks = _plan(ctx, run, connection, states, forced, period, levels, never_full=full is False)
    if not subtasks:
        closed = runs.close_if_done(str(run_id))
        if closed is not None:
            after_close(ctx, closed)
    return StartResult(str(run_id), "started", subtasks=subtasks)


def _discover(
    ctx: SyncContext, client: GraphClient, connection: MetaConnection, now: datetime
) -> None:
    """Read the token's accounts when the connection has none yet, or when it follows
    ``/me/adaccounts`` and the last discovery is older than ``META_ACCOUNT_DISCOVERY_HOURS``."""
    if not connection.ad_account_ids:
        connection.discover_accounts = True
        MetaConnection.objects(pk=connection.pk).update(set__discover_accounts=True)
        rediscover(client, connection, now)
        return
    last = connection.accounts_discovered_at
    every = timedelta(hours=ctx.settings.META_ACCOUNT_DISCOVERY_HOURS)
    if connection.discover_accounts and (last is None or now - last >= every):
        rediscover(client, connection, now)


def _read_accounts(
    client: GraphClient, account_ids: list[str], probe: list[str]
) -> tuple[list[dict[str, Any]], list[tuple[str, MetaAPIError]]]:
    """Account details, the usual accounts and the unreadable ones due for a probe, as one
    batch of single reads (:func:`read_each`: multi-id reads are closed to new apps); each
    refused account is named by its own error."""
    read = read_each(client, [f"act_{a}" for a in [*account_ids, *probe]], ACCOUNT_FIELDS)
    failures = [(key.removeprefix("act_"), error) for key, error in read.refused.items()]
    return list(read.found.values()), failures


def _fail_start(ctx: SyncContext, run: SyncRun, exc: BaseException) -> StartResult:
    SyncRun.objects(pk=run.pk).update(push__errors=error_record(None, exc), inc__failed=1)
    closed = runs.close_if_done(str(run.pk))
    if closed is not None:
        after_close(ctx, closed)
    return StartResult(str(run.pk), "failed", str(exc))


def _plan(
    ctx: SyncContext,
    run: SyncRun,
    connection: MetaConnection,
    states: dict[str, AccountSyncState],
    forced_full: set[str],
    period: Period | None,
    levels: tuple[str, ...] | None,
    never_full: bool = False,
) -> list[Subtask]:
    """Plan the run's subtasks, each account from its own watermarks, and release the first
    window of them; returns the subtasks the start sends (those it released that are still in
    flight, so a start delivered again sends them again)."""
    accounts = list(RunPlan.of(run.pk).accounts)
    if run.kind == "performance":
        ranked = performance.plan_performance(
            ctx, run, connection, accounts, states, period, levels
        )
    else:
        ranked, full_accounts, sinces = [], [], []
        for account in accounts:
            since = _entity_since(ctx, states[account], account in forced_full, never_full)
            if since is None:
                full_accounts.append(account)
            else:
                sinces.append(since)
            ranked += [
                (Subtask(str(run.pk), str(connection.pk), account, edge, None, s, u), window.RECENT)
                for edge, s, u in _entity_edges(ctx, states[account], since)
            ]
        SyncRun.objects(pk=run.pk).update(
            set__full=int(bool(full_accounts)), set__since=min(sinces) if sinces else None
        )
        RunPlan.record(run.pk, full_accounts=full_accounts)
    window.plan(str(run.pk), ranked)
    window.release(str(run.pk), ctx.settings.SYNC_SUBTASKS_IN_FLIGHT)
    return [Subtask.from_kwargs(a) for a in runs.handed_off(str(run.pk), "start")]


def _entity_edges(
    ctx: SyncContext, state: AccountSyncState, since: datetime | None
) -> list[tuple[str, str | None, str | None]]:
    """(edge, since, until) of one account's entity subtasks. The campaign tree is read from
    ``since`` (None: in full, with ``adcreatives``, and tombstoned); the libraries are always
    complete listings (Meta has no filter for them); activities follow on from the account's
    last successful entity sync (less the overlap), or from the start of Meta's log."""
    tree = ["campaigns", "adsets", "ads"] + (["adcreatives"] if since is None else [])
    stamp = since.isoformat() if since else None
    edges: list[tuple[str, str | None, str | None]] = [
        (edge, stamp, FULL if since is None else None) for edge in tree
    ]
    edges += [(edge, None, FULL) for edge in LIBRARY_EDGES]
    last = state.last_entity_sync_at
    overlap = timedelta(minutes=ctx.settings.META_SYNC_OVERLAP_MINUTES)
    edges.append(("activities", (last - overlap).isoformat() if last else None, None))
    return edges


def _entity_since(
    ctx: SyncContext, state: AccountSyncState, forced: bool, never_full: bool
) -> datetime | None:
    """None for a full reconciliation of the account, else the ``updated_time`` to read from:
    full when forced, when the account has never been synced in full, or every
    ``META_FULL_SYNC_HOURS`` (unless the caller asked for an incremental sync)."""
    settings, now = ctx.settings, utcnow()
    last_full, last_sync = state.last_full_sync_at, state.last_entity_sync_at
    due = last_full is not None and now - last_full > timedelta(hours=settings.META_FULL_SYNC_HOURS)
    if forced or last_full is None or last_sync is None or (due and not never_full):
        return None
    since: datetime = last_sync - timedelta(minutes=settings.META_SYNC_OVERLAP_MINUTES)
    return since
