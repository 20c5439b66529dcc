"""``SyncRun`` bookkeeping with atomic, idempotent updates (no chords).

- :func:`schedule` counts subtasks into ``pending``, once per subtask key.
- :func:`record_page` adds a page's counts, once per page key.
- :func:`finish` counts a subtask out (once per key) and, in the same atomic update, counts in
  the follow-ups it hands off and records them on the run (``handoffs``, an outbox); when
  ``pending`` reaches zero it closes the run exactly once (a conditional update on
  ``status == running``).

A subtask that runs twice (late acknowledgement after a worker died) therefore counts once. A
worker killed after finishing a subtask but before queueing its follow-ups loses nothing: the
redelivered subtask finds itself done and queues the recorded follow-ups again
(:func:`handed_off`) instead of reading Meta again, which might hand off different ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument, UpdateOne

from metasync.models import RunStatus, SyncRun, utcnow

__all__ = [
    "add_call_stats",
    "close_if_done",
    "finish",
    "handed_off",
    "record_page",
    "schedule",
    "unfinished",
    "waiting",
]

FINISH_ATTEMPTS = 3  # a follow-up key another subtask scheduled first is dropped, then retried


def _collection() -> Any:
    return SyncRun._get_collection()


def schedule(run_id: str, subtasks: Mapping[str, Mapping[str, Any]]) -> int:
    """Count each new subtask (key -> task arguments) into ``pending`` and record its arguments
    in the outbox; returns how many were new."""
    if not subtasks:
        return 0
    now = utcnow()
    updates = [  # one round trip; each guarded by its key, so a second start counts nothing
        UpdateOne(
            {"_id": ObjectId(run_id), "scheduled": {"$ne": key}},
            {
                "$addToSet": {"scheduled": key},
                "$inc": {"pending": 1},
                "$push": {"handoffs": {"parent": "start", "subtasks": [dict(arguments)]}},
                "$set": {"progress_at": now},
            },
        )
        for key, arguments in subtasks.items()
    ]
    return int(_collection().bulk_write(updates, ordered=True).modified_count)


def waiting(run_id: str, seconds: float) -> None:
    """A subtask asked to run again in ``seconds`` (throttled, or polling a report job): the
    run is not stalled before then."""
    now = utcnow()
    _collection().update_one(
        {"_id": ObjectId(run_id)},
        {
            "$set": {"progress_at": now},
            "$max": {"wait_until": now + timedelta(seconds=seconds)},
        },
    )


def record_page(
    run_id: str, page_key: str, counts: Mapping[str, int], field: str = "entities"
) -> bool:
    """Add one page's counts (under ``field``: ``entities`` or ``rows``) and one page, unless
    this page was already counted."""
    increments: dict[str, int] = {"pages": 1}
    increments.update({f"{field}.{name}": n for name, n in counts.items()})
    result = _collection().update_one(
        {"_id": ObjectId(run_id), "applied_pages": {"$ne": page_key}},
        {
            "$addToSet": {"applied_pages": page_key},
            "$inc": increments,
            "$set": {"progress_at": utcnow()},
        },
    )
    return bool(result.modified_count)


def add_call_stats(run_id: str, stats: Mapping[str, float]) -> None:
    """Add what one attempt cost (every attempt's calls really happened, so no guard)."""
    increments = {
        "api_calls": int(stats.get("api_calls", 0)),
        "retries": int(stats.get("retries", 0)),
        "throttled_seconds": float(stats.get("throttled_seconds", 0.0)),
    }
    if any(increments.values()):
        _collection().update_one({"_id": ObjectId(run_id)}, {"$inc": increments})


def count_report_jobs(run_id: str, what: str, count: int = 1) -> None:
    """``what``: started | resumed | split | failed."""
    _collection().update_one({"_id": ObjectId(run_id)}, {"$inc": {f"report_jobs.{what}": count}})


def add_tombstones(run_id: str, kind: str, count: int) -> None:
    if count:
        _collection().update_one({"_id": ObjectId(run_id)}, {"$inc": {f"tombstoned.{kind}": count}})


def finish(
    run_id: str,
    key: str,
    error: Mapping[str, Any] | None = None,
    follow_ups: Mapping[str, Mapping[str, Any]] | None = None,
) -> SyncRun | None:
    """Count subtask ``key`` out and its ``follow_ups`` (subtask key -> task arguments) in, in
    one atomic update; returns the closed run when this call closed it.

    A follow-up key already scheduled (by another subtask) is not counted twice: it is dropped
    and the update tried again.
    """
    handoff = dict(follow_ups or {})
    for _ in range(FINISH_ATTEMPTS):
        update: dict[str, Any] = {
            "$addToSet": {"done": key},
            "$inc": {"pending": len(handoff) - 1},
            "$set": {"progress_at": utcnow()},
        }
        pushes: dict[str, Any] = {}
        if error is not None:
            pushes["errors"] = dict(error)
            update["$inc"]["failed"] = 1
        if handoff:
            update["$addToSet"]["scheduled"] = {"$each": list(handoff)}
            pushes["handoffs"] = {
                "parent": key,
                "subtasks": [dict(arguments) for arguments in handoff.values()],
            }
        if pushes:
            update["$push"] = pushes
        query = {"_id": ObjectId(run_id), "done": {"$ne": key}}
        if handoff:
            query["scheduled"] = {"$nin": list(handoff)}
        if _collection().update_one(query, update).modified_count:
            break
        raw = _collection().find_one({"_id": ObjectId(run_id)}, {"done": 1, "scheduled": 1})
        if raw is None or key in (raw.get("done") or []):
            break  # counted out before: a redelivered subtask
        known = set(raw.get("scheduled") or [])
        handoff = {k: v for k, v in handoff.items() if k not in known}
    return close_if_done(run_id)


def handed_off(run_id: str, key: str) -> list[dict[str, Any]]:
    """The task arguments of the follow-ups subtask ``key`` handed off that are not done yet."""
    run = SyncRun.objects(pk=run_id).only("handoffs", "done").first()
    if run is None:
        return []
    done = set(run.done)
    return [
        dict(arguments)
        for handoff in run.handoffs
        if handoff.get("parent") == key
        for arguments in handoff.get("subtasks") or []
        if arguments.get("key") not in done
    ]


def unfinished(run: SyncRun) -> tuple[list[dict[str, Any]], list[str]]:
    """The task arguments of every subtask counted in and not out, once each, and the keys of
    such subtasks whose arguments were never recorded (runs older than the outbox)."""
    recorded: dict[str, dict[str, Any]] = {}
    for handoff in run.handoffs:
        for arguments in handoff.get("subtasks") or []:
            recorded.setdefault(str(arguments.get("key")), dict(arguments))
    done = set(run.done)
    missing = [key for key in run.scheduled if key not in done]
    known = [recorded[key] for key in missing if key in recorded]
    return known, [key for key in missing if key not in recorded]


def close_if_done(run_id: str) -> SyncRun | None:
    """Close the run when nothing is pending; only one caller wins and gets the run back."""
    raw = _collection().find_one(
        {"_id": ObjectId(run_id)},
        {"pending": 1, "status": 1, "failed": 1, "errors": 1, "scheduled": 1, "started_at": 1},
    )
    if raw is None or raw.get("status") != RunStatus.RUNNING or raw.get("pending", 0) > 0:
        return None
    now = utcnow()
    errors = raw.get("errors") or []
    total = len(raw.get("scheduled") or [])
    failed = raw.get("failed", 0)
    if any(e.get("type") == "TokenError" for e in errors) or (failed and failed >= total):
        status = RunStatus.FAILED
    elif errors:
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.SUCCEEDED
    started = raw.get("started_at") or now
    closed = _collection().find_one_and_update(
        {"_id": ObjectId(run_id), "status": RunStatus.RUNNING},
        {
            "$set": {
                "status": status,
                "finished_at": now,
                "duration_ms": int((now - started).total_seconds() * 1000),
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    return SyncRun._from_son(closed) if closed else None
