"""A run's fan-out through a bounded window: planned subtasks wait in MongoDB, about
``SYNC_SUBTASKS_IN_FLIGHT`` of them are queued on the broker or running at once.

Why: a connection of 1,000 ad accounts plans some 4,000 subtasks. Sent at once they would sit
on the broker ahead of every other tenant's work (a one-account tenant's hourly sync would wait
behind all of them) and fill the run document's outbox with thousands of keys. Instead:

- :func:`plan` stores a run's subtasks in ``queued_subtasks`` in release order (``seq``: the
  recent days of every account first, then backfill and lookback ranges, each in planning
  order), once per run, and counts them in the run (``queued``, ``pending``).
- The start releases the first window (:func:`release`). After that, a subtask that finishes
  without follow-ups releases the next queued one in the same atomic update of the run that
  counts it out (:func:`metasync.sync.account.runs.finish`): the run's ``released`` counter
  moves on by one, conditionally on its value, and the released subtask's arguments enter the
  outbox with the finishing subtask as parent. So the window keeps its size, releasing costs one
  read and no write of its own, and a release cannot be lost: a worker that dies before sending
  the released subtask is covered like any hand-off (the finishing subtask, delivered again,
  sends the outbox entries it is parent of; stalled-run recovery sends the whole outbox and tops
  the window up with :func:`release`).

Each run thus has about its window of messages on the broker, whatever its size: runs of
different tenants interleave on the queue in turn, a few messages each, and the run document
holds about a window of outbox entries. A subtask that hands off follow-ups (a long listing's
next pages, a report job split in parts) releases nothing, so the window can grow by such
hand-offs only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import ObjectId
from pymongo.errors import BulkWriteError

from metasync.models import QueuedSubtask, RunStatus, SyncRun, utcnow
from metasync.sync.subtasks import OLDER, RECENT, Subtask, slot

__all__ = ["OLDER", "RECENT", "next_queued", "plan", "release"]

RELEASE_ATTEMPTS = 5  # releases racing for the same places try again this often


def _runs() -> Any:
    return SyncRun._get_collection()


def _queue() -> Any:
    return QueuedSubtask._get_collection()


def plan(run_id: str, subtasks: Sequence[tuple[Subtask, int]]) -> int:
    """Queue a run's planned subtasks, ordered by rank (:data:`RECENT` before :data:`OLDER`)
    and then as planned, once per run: a start delivered again after it planned adds
    nothing. Returns how many."""
    if not subtasks:
        return 0
    raw = _runs().find_one({"_id": ObjectId(run_id)}, {"planned": 1})
    if raw is None or raw.get("planned") == 1:
        return 0
    _queue().delete_many({"run_id": run_id})  # an earlier attempt that died before counting
    now = utcnow()
    ordered = sorted(enumerate(subtasks), key=lambda item: (item[1][1], item[0]))
    documents = [
        {"run_id": run_id, "seq": seq, "arguments": sub.as_record(), "created_at": now}
        for seq, (_, (sub, _rank)) in enumerate(ordered)
    ]
    try:
        _queue().insert_many(documents, ordered=False)
    except BulkWriteError as exc:  # a concurrent attempt inserted the same plan
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise
    result = _runs().update_one(
        {"_id": ObjectId(run_id), "planned": {"$ne": 1}},
        {
            "$set": {"planned": 1, "progress_at": now, "queued": len(documents), "released": 0},
            "$inc": {"pending": len(documents), "subtasks_total": len(documents)},
        },
    )
    return len(documents) if result.modified_count else 0


def next_queued(run_id: str, position: int) -> dict[str, Any] | None:
    """The task arguments of the run's queued subtask number ``position`` (None past the
    last)."""
    found = _queue().find_one({"run_id": run_id, "seq": position}, {"arguments": 1})
    return dict(found["arguments"]) if found else None


def release(run_id: str, window: int, parent: str = "start") -> list[Subtask]:
    """Move queued subtasks into the run's outbox until it has ``window`` in flight; returns
    the subtasks to send (``parent``: who sends them, for a redelivered sender)."""
    released: list[Subtask] = []
    for _ in range(RELEASE_ATTEMPTS):
        raw = _runs().find_one(
            {"_id": ObjectId(run_id)},
            {"status": 1, "in_flight": 1, "queued": 1, "released": 1},
        )
        if raw is None or raw.get("status") != RunStatus.RUNNING:
            return released
        position = int(raw.get("released") or 0)
        count = min(window - int(raw.get("in_flight") or 0), int(raw.get("queued") or 0) - position)
        if count <= 0:
            return released
        documents = list(
            _queue()
            .find({"run_id": run_id, "seq": {"$gte": position, "$lt": position + count}})
            .sort("seq", 1)
        )
        if not documents:
            return released
        moved = _runs().update_one(
            {"_id": ObjectId(run_id), "status": RunStatus.RUNNING, "released": position},
            {
                "$set": {
                    "progress_at": utcnow(),
                    **{
                        f"inflight.{slot(doc['arguments']['key'])}": {
                            **doc["arguments"],
                            "parent": parent,
                        }
                        for doc in documents
                    },
                },
                "$inc": {"released": len(documents), "in_flight": len(documents)},
            },
        )
        if moved.modified_count:
            released += [Subtask.from_kwargs(doc["arguments"]) for doc in documents]
    return released
