"""``SyncRun`` bookkeeping with atomic, idempotent updates (no chords).

- :func:`schedule` counts subtasks into ``pending``, once per subtask key.
- :func:`record_page` adds a page's counts, once per page key.
- :func:`finish` counts a subtask out (once per key) and, when ``pending`` reaches zero, closes
  the run exactly once (a conditional update on ``status == running``).

A subtask that runs twice (late acknowledgement after a worker died) therefore counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from metasync.models import RunStatus, SyncRun, utcnow

__all__ = ["add_call_stats", "close_if_done", "finish", "record_page", "schedule"]


def _collection() -> Any:
    return SyncRun._get_collection()


def schedule(run_id: str, keys: Iterable[str]) -> int:
    """Count each new subtask key into ``pending``; returns how many were new."""
    added = 0
    for key in keys:
        result = _collection().update_one(
            {"_id": ObjectId(run_id), "scheduled": {"$ne": key}},
            {"$addToSet": {"scheduled": key}, "$inc": {"pending": 1}},
        )
        added += result.modified_count
    return added


def record_page(
    run_id: str, page_key: str, counts: Mapping[str, int], field: str = "entities"
) -> bool:
    """Add one page's counts (under ``field``: ``entities`` or ``rows``) and one page, unless
    this page was already counted."""
    increments: dict[str, int] = {"pages": 1}
    increments.update({f"{field}.{name}": n for name, n in counts.items()})
    result = _collection().update_one(
        {"_id": ObjectId(run_id), "applied_pages": {"$ne": page_key}},
        {"$addToSet": {"applied_pages": page_key}, "$inc": increments},
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


def finish(run_id: str, key: str, error: Mapping[str, Any] | None = None) -> SyncRun | None:
    """Count subtask ``key`` out; returns the closed run when this call closed it."""
    update: dict[str, Any] = {"$addToSet": {"done": key}, "$inc": {"pending": -1}}
    if error is not None:
        update["$push"] = {"errors": dict(error)}
        update["$inc"]["failed"] = 1
    _collection().update_one({"_id": ObjectId(run_id), "done": {"$ne": key}}, update)
    return close_if_done(run_id)


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
