"""``SyncRun`` bookkeeping with atomic, idempotent updates (no chords), in a run document
whose size does not grow with the run.

A run holds only its subtasks in flight: ``inflight`` maps a digest of each subtask key to its
task arguments and parent (the outbox). Nothing is kept per page, and nothing per finished
subtask but counters, so a run's document is bounded by the work in flight, not by the pages or
subtasks it did (``bench/run_document.py`` measures it).

- :mod:`metasync.sync.account.window` queues a run's planned subtasks and releases them into the
  outbox a window at a time.
- :func:`finish` counts a subtask out (once: only while it is in flight), adds what it wrote,
  and in the same atomic update records the follow-ups it hands off; when ``pending`` reaches
  zero it closes the run exactly once (a conditional update on ``status == running``).

A subtask that runs twice (late acknowledgement after a worker died) therefore counts once, and
what it wrote is added once: counts travel with the finish, not with each page, so a subtask
that died half-way and is read again from its start adds its pages once. A worker killed after
finishing a subtask but before queueing its follow-ups loses nothing: the redelivered subtask
finds itself no longer in flight and queues its recorded follow-ups again (:func:`handed_off`)
instead of reading Meta again, which might hand off different ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from metasync.models import QueuedSubtask, RunStatus, SyncRun, utcnow
from metasync.sync.account.window import next_queued
from metasync.sync.subtasks import slot

__all__ = [
    "Finished",
    "add_call_stats",
    "add_counts",
    "call_counts",
    "close_if_done",
    "finish",
    "handed_off",
    "slot",
    "unfinished",
    "waiting",
]

FINISH_ATTEMPTS = 6  # retried when a follow-up was put in flight first or a release raced
MAX_ERRORS = 50  # the newest errors kept on a run (``failed`` counts them all)


def _collection() -> Any:
    return SyncRun._get_collection()


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


def call_counts(stats: Mapping[str, float] | None) -> dict[str, float]:
    """A client's call statistics as run counters (the non-zero ones)."""
    if not stats:
        return {}
    counts = {
        "api_calls": int(stats.get("api_calls", 0)),
        "retries": int(stats.get("retries", 0)),
        "throttled_seconds": float(stats.get("throttled_seconds", 0.0)),
    }
    return {name: value for name, value in counts.items() if value}


def add_call_stats(run_id: str, stats: Mapping[str, float]) -> None:
    """Add what one attempt cost (every attempt's calls really happened, so no guard); a
    finishing subtask adds its cost with its finish instead (:func:`call_counts`)."""
    increments = call_counts(stats)
    if increments:
        _collection().update_one({"_id": ObjectId(run_id)}, {"$inc": increments})


def count_report_jobs(run_id: str, what: str, count: int = 1) -> None:
    """``what``: started | resumed | split | failed | given_up | read_synchronously."""
    _collection().update_one({"_id": ObjectId(run_id)}, {"$inc": {f"report_jobs.{what}": count}})


def add_tombstones(run_id: str, kind: str, count: int) -> None:
    if count:
        _collection().update_one({"_id": ObjectId(run_id)}, {"$inc": {f"tombstoned.{kind}": count}})


def add_counts(run_id: str, counts: Mapping[str, float]) -> None:
    """Add counters that belong to no subtask (the accounts a start read)."""
    if counts:
        _collection().update_one({"_id": ObjectId(run_id)}, {"$inc": dict(counts)})


@dataclass(frozen=True)
class Finished:
    """What :func:`finish` did: the run when this call closed it, and the queued subtasks it
    released into the window (to send with the follow-ups)."""

    closed: SyncRun | None = None
    released: list[dict[str, Any]] = field(default_factory=list)
    release_skipped: bool = False  # releases kept racing: the caller tops the window up


def finish(
    run_id: str,
    key: str,
    error: Mapping[str, Any] | None = None,
    follow_ups: Mapping[str, Mapping[str, Any]] | None = None,
    counts: Mapping[str, float] | None = None,
    *,
    release_from: int | None = None,
) -> Finished:
    """Count subtask ``key`` out, add ``counts`` (``entities.ads``, ``rows.ad``, ``pages``,
    ``api_calls``...) and put its ``follow_ups`` (subtask key -> task arguments) in flight, in
    one atomic update.

    With ``release_from`` (the run's ``released`` counter as the caller last read it) a
    subtask without follow-ups also releases the next queued subtask in the same update, on
    the condition that the counter has not moved (else it reads it again): the window keeps
    its size with no write of its own (:mod:`metasync.sync.account.window`).

    A follow-up already in flight (another subtask handed it off) is not counted twice: it is
    dropped and the update tried again.
    """
    handoff = dict(follow_ups or {})
    position = release_from
    for attempt in range(FINISH_ATTEMPTS):
        released = None
        if position is not None and not handoff and attempt < FINISH_ATTEMPTS - 1:
            released = next_queued(run_id, position)
        children = {**handoff, **({released["key"]: released} if released else {})}
        increments: dict[str, float] = {
            "pending": len(handoff) - 1,
            "in_flight": len(children) - 1,
            "subtasks_done": 1,
            "subtasks_total": len(handoff),
            **dict(counts or {}),
        }
        update: dict[str, Any] = {
            "$unset": {f"inflight.{slot(key)}": ""},
            "$set": {
                "progress_at": utcnow(),
                **{
                    f"inflight.{slot(child)}": {**dict(arguments), "key": child, "parent": key}
                    for child, arguments in children.items()
                },
            },
            "$inc": increments,
        }
        if released is not None:
            increments["released"] = 1
        if error is not None:
            update["$push"] = {"errors": {"$each": [dict(error)], "$slice": -MAX_ERRORS}}
            increments["failed"] = 1
        query: dict[str, Any] = {
            "_id": ObjectId(run_id),
            f"inflight.{slot(key)}": {"$exists": True},
            **{f"inflight.{slot(child)}": {"$exists": False} for child in children},
            **({"released": position} if released is not None else {}),
        }
        after = _collection().find_one_and_update(
            query, update, {"pending": 1}, return_document=ReturnDocument.AFTER
        )
        if after is not None:
            closed = close_if_done(run_id) if after.get("pending", 0) <= 0 else None
            skipped = position is not None and not handoff and attempt == FINISH_ATTEMPTS - 1
            return Finished(closed, [released] if released is not None else [], skipped)
        raw = _collection().find_one({"_id": ObjectId(run_id)}, {"inflight": 1, "released": 1})
        inflight = (raw or {}).get("inflight") or {}
        if raw is None or slot(key) not in inflight:
            return Finished()  # counted out before: a redelivered subtask
        handoff = {k: v for k, v in handoff.items() if slot(k) not in inflight}
        if position is not None:
            position = int(raw.get("released") or 0)
    return Finished()


def handed_off(run_id: str, key: str) -> list[dict[str, Any]]:
    """The task arguments of the follow-ups subtask ``key`` handed off that are still in
    flight."""
    raw = _collection().find_one({"_id": ObjectId(run_id)}, {"inflight": 1}) or {}
    return [
        {k: v for k, v in entry.items() if k != "parent"}
        for entry in (raw.get("inflight") or {}).values()
        if entry.get("parent") == key
    ]


def unfinished(run: SyncRun) -> tuple[list[dict[str, Any]], list[str]]:
    """The task arguments of every subtask in flight, and the keys of those whose arguments
    are missing (a record damaged by hand, or written by another version)."""
    known: list[dict[str, Any]] = []
    missing: list[str] = []
    for entry in (run.inflight or {}).values():
        if entry.get("edge") and entry.get("run_id"):
            known.append({k: v for k, v in entry.items() if k != "parent"})
        else:
            missing.append(str(entry.get("key")))
    return known, missing


def close_if_done(run_id: str) -> SyncRun | None:
    """Close the run when nothing is pending; only one caller wins and gets the run back."""
    raw = _collection().find_one(
        {"_id": ObjectId(run_id)},
        {
            "pending": 1,
            "status": 1,
            "failed": 1,
            "errors": 1,
            "subtasks_total": 1,
            "started_at": 1,
        },
    )
    if raw is None or raw.get("status") != RunStatus.RUNNING or raw.get("pending", 0) > 0:
        return None
    now = utcnow()
    errors = raw.get("errors") or []
    total = raw.get("subtasks_total") or 0
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
    if closed is None:
        return None
    if closed.get("queued"):  # every queued subtask was released: its plan is done with
        QueuedSubtask._get_collection().delete_many({"run_id": run_id})
    run: SyncRun = SyncRun._from_son(closed)
    return run
