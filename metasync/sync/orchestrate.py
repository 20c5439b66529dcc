"""A connection's sync, without Celery: start (lock, token, run, fan-out) and subtasks.

Two kinds share this machinery: ``entities`` (campaigns, ad sets, ads, creatives) and
``performance`` (daily insights). The Celery tasks in ``workers/`` call :func:`start_sync` and
:func:`execute_subtask`; ``metasync sync --inline`` calls them in a loop (:func:`run_inline`).
What should happen after a subtask (done, follow-ups, retry or poll after a countdown) is
returned as an :class:`Outcome`, so nothing here sleeps or knows about brokers.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import redis
from bson import ObjectId
from pymongo.errors import ConnectionFailure

from metasync.crypto import CryptoError
from metasync.graph import (
    BatchRequest,
    GraphClient,
    InsightsTimeoutError,
    InvalidRequestError,
    MetaAPIError,
    PermissionDeniedError,
    RateGovernorUnavailable,
    RateLimitError,
    TokenError,
    TransientError,
    batch,
    get_many,
)
from metasync.models import (
    AccountSyncState,
    AdAccount,
    ConnectionStatus,
    MetaConnection,
    RunStatus,
    SyncRun,
    upsert_page,
    utcnow,
)
from metasync.sync import mapping, performance, report_jobs, runs
from metasync.sync.accounts import (
    account_states,
    accounts_to_read,
    mark_readable,
    mark_unreadable,
    record_outcomes,
    rediscover,
)
from metasync.sync.connections import mark_token_error, maybe_refresh_token
from metasync.sync.context import SyncContext
from metasync.sync.entities import EDGES, read_edge_chunk
from metasync.sync.periods import Period
from metasync.sync.subtasks import (
    IncompleteListing,
    Outcome,
    StartResult,
    Subtask,
    Tally,
    error_record,
)
from metasync.sync.tombstones import tombstone_edge

__all__ = [
    "KINDS",
    "MAX_COUNTDOWN_SECONDS",
    "execute_subtask",
    "interrupt",
    "run_inline",
    "start_entity_sync",
    "start_sync",
]

log = logging.getLogger(__name__)

KINDS = ("entities", "performance")
# SyncRun lists a subtask does not need (they grow with the run): left out of its read
RUN_BOOKKEEPING = ("inflight", "errors")
MAX_COUNTDOWN_SECONDS = 3000.0  # below the lock TTL (3600 s) and the visibility timeout
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
                    ctx, existing, connection, states, set(existing.full_accounts), period, levels
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
        run.accounts = planned
        SyncRun.objects(pk=run_id).update(set__accounts=planned)
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
    """Account details: the usual accounts in one multi-id call; when Meta refuses it (one
    account not readable), and for unreadable accounts due for a probe, one batch request with
    an item per account, so the readable ones are still read and the others are named by their
    own errors (items that come back null are sent again)."""
    rows: list[dict[str, Any]] = []
    singles = list(probe)
    if account_ids:
        try:
            found = get_many(client, [f"act_{a}" for a in account_ids], ACCOUNT_FIELDS)
            rows += list(found.values())
        except (TokenError, RateLimitError, TransientError):
            raise
        except MetaAPIError:
            singles = [*account_ids, *singles]
    failures: list[tuple[str, MetaAPIError]] = []
    if not singles:
        return rows, failures
    fields = ",".join(ACCOUNT_FIELDS)
    results = batch(client, [BatchRequest(f"act_{a}?fields={fields}") for a in singles])
    for account_id, result in zip(singles, results, strict=True):
        if isinstance(result.error, TokenError | RateLimitError | TransientError):
            raise result.error
        if result.error is not None:
            failures.append((account_id, result.error))
        elif isinstance(result.body, dict):
            rows.append(result.body)
    return rows, failures


def _fail_start(ctx: SyncContext, run: SyncRun, exc: BaseException) -> StartResult:
    SyncRun.objects(pk=run.pk).update(push__errors=error_record(None, exc), inc__failed=1)
    closed = runs.close_if_done(str(run.pk))
    if closed is not None:
        after_close(ctx, closed)
    return StartResult(str(run.pk), "failed", str(exc))


FULL = "full"  # ``until`` of an entity subtask that lists the whole edge (and tombstones)


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
    """The run's subtasks, each account planned from its own watermarks."""
    accounts = list(run.accounts)
    if run.kind == "performance":
        subtasks = performance.plan_performance(
            ctx, run, connection, accounts, states, period, levels
        )
    else:
        subtasks, full_accounts, sinces = [], [], []
        for account in accounts:
            since = _entity_since(ctx, states[account], account in forced_full, never_full)
            if since is None:
                full_accounts.append(account)
            else:
                sinces.append(since)
            edges = ["campaigns", "adsets", "ads"] + (["adcreatives"] if since is None else [])
            subtasks += [
                Subtask(
                    str(run.pk),
                    str(connection.pk),
                    account,
                    edge,
                    since=since.isoformat() if since else None,
                    until=FULL if since is None else None,
                )
                for edge in edges
            ]
        SyncRun.objects(pk=run.pk).update(
            set__full_accounts=full_accounts,
            set__full=int(bool(full_accounts)),
            set__since=min(sinces) if sinces else None,
        )
        run.full_accounts = full_accounts
    runs.schedule(str(run.pk), {sub.key: sub.as_record() for sub in subtasks})
    return subtasks


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
    log.info(
        "%s run %s of connection %s ended %s",
        run.kind,
        run.pk,
        run.connection_id,
        run.status,
        extra={"run_id": str(run.pk), "connection_id": run.connection_id},
    )


def _finish(
    ctx: SyncContext,
    sub: Subtask,
    error: dict[str, Any] | None = None,
    follow_ups: list[Subtask] | None = None,
    tally: Tally | None = None,
) -> SyncRun | None:
    handoff = {follow.key: follow.as_record() for follow in follow_ups or []}
    counts = tally.increments if tally is not None else None
    closed = runs.finish(sub.run_id, sub.key, error, handoff, counts)
    if closed is not None:
        after_close(ctx, closed)
    return closed


def _work(
    ctx: SyncContext,
    client: GraphClient,
    run: SyncRun,
    connection: MetaConnection,
    sub: Subtask,
    tally: Tally,
) -> Outcome:
    """Do the subtask's reading and writing, counting what it wrote in ``tally``; returns what
    comes next (no finishing here)."""
    if sub.edge.startswith("report:"):
        step = report_jobs.report_step(ctx, client, connection, sub)
        if step.status == "poll":
            return Outcome("poll", countdown=step.countdown)
        tally.add(step.written)
        return Outcome("done", follow_ups=step.follow_ups)
    if sub.edge.startswith("insights:"):
        try:
            chunk = performance.read_insights_chunk(
                ctx,
                client,
                connection,
                sub,
                on_page=lambda _, counts: tally.page("rows", counts),
            )
        except InsightsTimeoutError:
            level = sub.edge.split(":", 1)[1]
            job = report_jobs.report_subtask(
                run,
                connection,
                sub.account_id,
                level,
                date.fromisoformat(sub.since or ""),
                date.fromisoformat(sub.until or ""),
            )
            return Outcome("done", follow_ups=[job])
        if chunk.next_after:
            return Outcome(
                "done",
                follow_ups=[
                    Subtask(
                        sub.run_id,
                        sub.connection_id,
                        sub.account_id,
                        sub.edge,
                        chunk.next_after,
                        sub.since,
                        sub.until,
                    )
                ],
            )
        return Outcome("done")
    account = AdAccount.objects(
        tenant_id=connection.tenant_id, meta_id=f"act_{sub.account_id}"
    ).first()
    result = read_edge_chunk(
        client,
        tenant_id=connection.tenant_id,
        account_id=sub.account_id,
        currency=account.currency if account else None,
        edge=sub.edge,
        since=datetime.fromisoformat(sub.since) if sub.since else None,
        after=sub.after,
        on_page=lambda _, counts: tally.page("entities", counts),
        run_id=sub.run_id,
    )
    if result.stopped_early:  # what it read is kept; nothing is concluded from what it did not
        raise IncompleteListing(f"{result.stopped_early}: no tombstones for this edge")
    if result.next_after:
        return Outcome(
            "done",
            follow_ups=[
                Subtask(
                    sub.run_id,
                    sub.connection_id,
                    sub.account_id,
                    sub.edge,
                    result.next_after,
                    sub.since,
                    sub.until,
                )
            ],
        )
    if sub.until == FULL:
        _tombstone(ctx, client, connection, sub, account.currency if account else None)
    return Outcome("done")


def _tombstone(
    ctx: SyncContext,
    client: GraphClient,
    connection: MetaConnection,
    sub: Subtask,
    currency: str | None,
) -> None:
    """After a full run's complete listing of one edge: tombstone what it did not return
    (confirming by id above the allowed share) and write back the objects that answered."""
    spec = EDGES[sub.edge]
    outcome = tombstone_edge(
        client,
        spec.model,
        tenant_id=connection.tenant_id,
        account_id=sub.account_id,
        run_id=sub.run_id,
        fields=spec.fields,
        max_share=ctx.settings.META_TOMBSTONE_MAX_SHARE,
    )
    if outcome.confirmed_alive:
        rows = [
            {
                **spec.mapper(raw, connection.tenant_id, currency, sub.account_id),
                "last_seen_run": sub.run_id,
            }
            for raw in outcome.confirmed_alive
        ]
        upsert_page(spec.model, rows)
        runs.add_tombstones(sub.run_id, f"confirmed_alive_{sub.edge}", len(rows))
    runs.add_tombstones(sub.run_id, sub.edge, outcome.marked)


def execute_subtask(
    ctx: SyncContext, sub: Subtask, *, final_attempt: bool = True, may_wait: bool = True
) -> Outcome:
    """Run one subtask. Transient errors are re-raised unless ``final_attempt`` (Celery's
    autoretry takes them); a rate limit asks for a retry with a countdown unless ``may_wait`` is
    False (retries exhausted), when it is recorded as the subtask's failure."""
    # every subtask reads its run: leave out what it does not need (subtasks in flight, errors)
    run = SyncRun.objects(pk=sub.run_id).exclude(*RUN_BOOKKEEPING).first()
    if run is None or run.status != RunStatus.RUNNING:
        return Outcome("gone")
    if not runs.in_flight(sub.run_id, sub.key):  # redelivered after it finished
        again = [Subtask.from_kwargs(a) for a in runs.handed_off(sub.run_id, sub.key)]
        return Outcome("done", follow_ups=again)
    connection = MetaConnection.objects(pk=sub.connection_id).first()
    if connection is None or connection.status != ConnectionStatus.ACTIVE:
        return Outcome("gone", closed=_finish(ctx, sub))  # the run already says why
    ctx.sync_lock(sub.connection_id, run.kind).extend(sub.run_id)
    client = None
    tally = Tally()  # what this attempt wrote: added to the run when the subtask finishes
    try:
        client = ctx.client_for(connection)
        outcome = _work(ctx, client, run, connection, sub, tally)
    except RateLimitError as exc:
        if client is not None and exc.scope != "governor":
            client.stats.throttled_seconds += exc.retry_after
        if may_wait:
            countdown = min(exc.retry_after, MAX_COUNTDOWN_SECONDS)
            runs.waiting(sub.run_id, countdown)
            return Outcome("retry", countdown=countdown)
        return Outcome("failed", closed=_finish(ctx, sub, error_record(sub, exc), tally=tally))
    except TokenError as exc:
        mark_token_error(sub.connection_id, exc)
        return Outcome("failed", closed=_finish(ctx, sub, error_record(sub, exc), tally=tally))
    except (TransientError, RateGovernorUnavailable) as exc:
        if not final_attempt:
            raise
        return Outcome("failed", closed=_finish(ctx, sub, error_record(sub, exc), tally=tally))
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
        return Outcome("failed", closed=_finish(ctx, sub, error_record(sub, exc), tally=tally))
    except IncompleteListing as exc:
        log.warning(
            "subtask %s of run %s: %s", sub.key, sub.run_id, exc, extra={"run_id": sub.run_id}
        )
        return Outcome("failed", closed=_finish(ctx, sub, error_record(sub, exc), tally=tally))
    except (ConnectionFailure, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        raise  # our own stores briefly away: the task retries
    except Exception as exc:
        log.exception(
            "subtask %s of run %s failed unexpectedly",
            sub.key,
            sub.run_id,
            extra={"run_id": sub.run_id},
        )
        return Outcome("failed", closed=_finish(ctx, sub, error_record(sub, exc), tally=tally))
    finally:
        if client is not None:
            runs.add_call_stats(sub.run_id, client.stats.as_dict())
    if outcome.status == "poll":
        runs.waiting(sub.run_id, outcome.countdown)
        return outcome
    outcome.closed = _finish(ctx, sub, follow_ups=outcome.follow_ups, tally=tally)
    return outcome


def run_inline(
    ctx: SyncContext,
    connection_id: str,
    *,
    kind: str = "entities",
    full: bool | None = None,
    trigger: str = "cli",
    period: Period | None = None,
    levels: tuple[str, ...] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[SyncRun], None] | None = None,
) -> StartResult:
    """Run a whole sync in this process (no broker), holding the same lock.

    Subtasks that ask to wait (throttled, or a report job still running) are put back with
    their countdown while the others go on; the runner sleeps only when nothing is ready.
    """
    start = start_sync(
        ctx, connection_id, kind=kind, trigger=trigger, full=full, period=period, levels=levels
    )
    queue: list[tuple[float, int, Subtask]] = []
    order = itertools.count()
    for sub in start.subtasks:
        heapq.heappush(queue, (clock(), next(order), sub))
    try:
        while queue:
            ready_at, _, sub = heapq.heappop(queue)
            if ready_at > clock():
                sleep(ready_at - clock())  # the CLI is not a worker: it may wait
            outcome = execute_subtask(ctx, sub)
            if outcome.status in ("retry", "poll"):
                heapq.heappush(queue, (clock() + outcome.countdown, next(order), sub))
            for follow_up in outcome.follow_ups:
                heapq.heappush(queue, (clock(), next(order), follow_up))
            if on_progress is not None and start.run_id:
                progress = SyncRun.objects(pk=start.run_id).first()
                if progress is not None:
                    on_progress(progress)
    except BaseException:
        if start.run_id:
            interrupt(ctx, start.run_id)
        raise
    return start


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
