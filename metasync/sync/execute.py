"""Running one subtask: read a few pages (an edge, insights, a report job step), write them,
count them, and say what comes next (done, follow-ups, retry or poll after a countdown) as an
:class:`Outcome`; nothing here sleeps or knows about brokers."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

import redis
from bson import ObjectId
from pymongo.errors import ConnectionFailure

from metasync.crypto import CryptoError
from metasync.graph import (
    GraphClient,
    InsightsTimeoutError,
    MetaAPIError,
    PermissionDeniedError,
    RateGovernorUnavailable,
    RateLimitError,
    TokenError,
    TransientError,
)
from metasync.models import (
    ConnectionStatus,
    MetaConnection,
    RunStatus,
    SyncRun,
    upsert_page,
    utcnow,
)
from metasync.sync import performance, report_jobs, runs, window
from metasync.sync.closing import after_close
from metasync.sync.connections import mark_token_error
from metasync.sync.context import SyncContext
from metasync.sync.entities import EDGES, LIBRARY_EDGES, read_edge_chunk
from metasync.sync.insight_rows import account_of
from metasync.sync.subtasks import (
    FULL,
    MAX_COUNTDOWN_SECONDS,
    IncompleteListing,
    Outcome,
    Subtask,
    Tally,
    error_record,
    slot,
)
from metasync.sync.tombstones import mark_deleted, tombstone_edge

__all__ = ["execute_subtask"]

log = logging.getLogger(__name__)


def _finish(
    ctx: SyncContext,
    sub: Subtask,
    status: str,
    error: dict[str, Any] | None = None,
    follow_ups: list[Subtask] | None = None,
    tally: Tally | None = None,
    *,
    run: SyncRun | None = None,
    stats: dict[str, float] | None = None,
) -> Outcome:
    """Count the subtask out with what it wrote and cost, hand off its follow-ups and, when it
    has none, release the next queued subtask of the run, in one update of the run."""
    handoff = {follow.key: follow.as_record() for follow in follow_ups or []}
    counts = {**(tally.increments if tally is not None else {}), **runs.call_counts(stats)}
    done = runs.finish(
        sub.run_id,
        sub.key,
        error,
        handoff,
        counts,
        release_from=_release_position(run),
    )
    if done.closed is not None:
        after_close(ctx, done.closed)
    released = [Subtask.from_kwargs(arguments) for arguments in done.released]
    if done.release_skipped:
        released += window.release(sub.run_id, ctx.settings.SYNC_SUBTASKS_IN_FLIGHT, sub.key)
    return Outcome(status, follow_ups=[*(follow_ups or []), *released], closed=done.closed)


def _release_position(run: SyncRun | None) -> int | None:
    """Where the run's queue stood when the subtask read its run; None when nothing is left
    to release (then the finish does not look)."""
    if run is None or int(run.released or 0) >= int(run.queued or 0):
        return None
    return int(run.released or 0)


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
            job = report_jobs.report_subtask(
                run,
                connection,
                sub.account_id,
                sub.edge.split(":", 1)[1],
                date.fromisoformat(sub.since or ""),
                date.fromisoformat(sub.until or ""),
            )
            return Outcome("done", follow_ups=[job])
        return _continue(sub, chunk.next_after)
    account = account_of(connection, sub.account_id)
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
        return _continue(sub, result.next_after)
    if sub.until == FULL:
        _tombstone(ctx, client, connection, sub, account.currency if account else None)
    return Outcome("done")


def _continue(sub: Subtask, after: str | None) -> Outcome:
    """Done with this chunk; a listing that goes on continues from ``after`` as a new subtask."""
    if after is None:
        return Outcome("done")
    follow = Subtask(
        sub.run_id, sub.connection_id, sub.account_id, sub.edge, after, sub.since, sub.until
    )
    return Outcome("done", follow_ups=[follow])


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
    tree = sub.edge in ("campaigns", "adsets", "ads")
    lookback = timedelta(days=ctx.settings.META_INSIGHTS_LOOKBACK_DAYS)
    outcome = tombstone_edge(
        client,
        spec.model,
        tenant_id=connection.tenant_id,
        account_id=sub.account_id,
        run_id=sub.run_id,
        fields=spec.fields,
        max_share=ctx.settings.META_TOMBSTONE_MAX_SHARE,
        recent_since=utcnow() - lookback if tree else None,
        confirmable=sub.edge not in LIBRARY_EDGES,
    )

    def write_back(raws: list[dict[str, Any]]) -> list[str]:
        rows = [
            {
                **spec.mapper(raw, connection.tenant_id, currency, sub.account_id),
                "last_seen_run": sub.run_id,
            }
            for raw in raws
        ]
        upsert_page(spec.model, rows)
        return [row["meta_id"] for row in rows]

    if outcome.confirmed_alive:
        alive = write_back(outcome.confirmed_alive)
        runs.add_tombstones(sub.run_id, f"confirmed_alive_{sub.edge}", len(alive))
    final = mark_deleted(spec.model, connection.tenant_id, write_back(outcome.final))
    if final:  # deleted at Meta, no longer listed: read by id once, final status kept
        runs.add_tombstones(sub.run_id, f"deleted_read_by_id_{sub.edge}", final)
    runs.add_tombstones(sub.run_id, sub.edge, outcome.marked + final)


def execute_subtask(
    ctx: SyncContext, sub: Subtask, *, final_attempt: bool = True, may_wait: bool = True
) -> Outcome:
    """Run one subtask. Transient errors are re-raised unless ``final_attempt`` (Celery's
    autoretry takes them); a rate limit asks for a retry with a countdown unless ``may_wait`` is
    False (retries exhausted), when it is recorded as the subtask's failure."""
    # one read: the run with its outbox (a window of entries), without its errors
    raw = SyncRun._get_collection().find_one({"_id": ObjectId(sub.run_id)}, {"errors": 0})
    if raw is None or raw.get("status") != RunStatus.RUNNING:
        return Outcome("gone")
    if slot(sub.key) not in (raw.get("inflight") or {}):  # redelivered after it finished
        again = [Subtask.from_kwargs(a) for a in runs.handed_off(sub.run_id, sub.key)]
        return Outcome("done", follow_ups=again)
    run = SyncRun._from_son(raw)
    # the connection without its account list (a subtask works on one account it names)
    connection = MetaConnection.objects(pk=sub.connection_id).exclude("ad_account_ids").first()
    if connection is None or connection.status != ConnectionStatus.ACTIVE:
        return _finish(ctx, sub, "gone", run=run)  # the run already says why
    ctx.sync_lock(sub.connection_id, run.kind).extend(sub.run_id)
    client = None
    tally = Tally()  # what this attempt wrote: added to the run when the subtask finishes
    finished = False

    def failed(exc: BaseException) -> Outcome:
        nonlocal finished
        finished = True
        stats = client.stats.as_dict() if client is not None else None
        return _finish(
            ctx, sub, "failed", error_record(sub, exc), tally=tally, run=run, stats=stats
        )

    try:
        client = ctx.client_for(connection)
        outcome = _work(ctx, client, run, connection, sub, tally)
        finished = outcome.status != "poll"  # its cost goes with its finish, below
    except RateLimitError as exc:
        if client is not None and exc.scope != "governor":
            client.stats.throttled_seconds += exc.retry_after
        if may_wait:
            countdown = min(exc.retry_after, MAX_COUNTDOWN_SECONDS)
            runs.waiting(sub.run_id, countdown)
            return Outcome("retry", countdown=countdown)
        return failed(exc)
    except TokenError as exc:
        mark_token_error(sub.connection_id, exc)
        return failed(exc)
    except (TransientError, RateGovernorUnavailable) as exc:
        if not final_attempt:
            raise
        return failed(exc)
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
        return failed(exc)
    except IncompleteListing as exc:
        log.warning(
            "subtask %s of run %s: %s", sub.key, sub.run_id, exc, extra={"run_id": sub.run_id}
        )
        return failed(exc)
    except (ConnectionFailure, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        raise  # our own stores briefly away: the task retries
    except Exception as exc:
        log.exception(
            "subtask %s of run %s failed unexpectedly",
            sub.key,
            sub.run_id,
            extra={"run_id": sub.run_id},
        )
        return failed(exc)
    finally:
        if client is not None and not finished:  # a retry, poll or raise: its cost now
            runs.add_call_stats(sub.run_id, client.stats.as_dict())
    if outcome.status == "poll":
        runs.waiting(sub.run_id, outcome.countdown)
        return outcome
    return _finish(
        ctx,
        sub,
        outcome.status,
        follow_ups=outcome.follow_ups,
        tally=tally,
        run=run,
        stats=client.stats.as_dict(),
    )
