"""Write numbers: the order in which the warehouse export reads an ad account's daily and
report rows, given by the database rather than by the writers' clocks or their commit order.

**Why not a time stamp.** Pages of one account are written by concurrent subtasks on several
machines. A mark on the writer's clock (its ``utcnow()`` before the bulk write) loses rows two
ways: a page stamped T that commits after a page stamped T + 1 s was exported lies behind the
mark for good, and a worker whose clock is slow writes behind the mark from the start.

**The choice: a counter per (tenant, account) with the numbers still being written.** Of the
three ways to order by the database (a server-assigned number, MongoDB's cluster time, a
re-read window behind the mark), only the number needs no bound on how long a write may take
to commit: a write's cluster time is given before it becomes visible, and writes become visible
out of that order (oplog holes), so a mark in cluster time has the same gap; a window is only
as wide as the slowest commit it was sized for. One document per account in
``write_sequences`` holds
``last`` (the last number given) and ``inflight`` (the numbers given but not yet released,
each with the server's time it was given):

- :func:`reserve` is one ``findAndModify`` with an update pipeline: ``last + 1`` and its
  in-flight entry ``{seq, at: $$NOW}`` in the same atomic change of one document, so no reader
  ever sees a number without its entry (it also drops entries older than the lease).
- The writer stamps every row of its page with the number (field ``seq``, indexed with the
  tenant and account), bulk-writes, then :func:`release` pulls the entry.
- :func:`watermark` is the smallest live in-flight number, else ``last + 1``. Every number
  below it was released after its rows were acknowledged, whatever order they committed in; the
  export reads ``mark < seq < watermark`` in ``(seq, _id)`` order and never passes a number
  still being written. Rows of a number above it wait for the next export.

A row written again takes its new page's number, so it is exported again; a number is used by
one page only (a retried page reserves a new one), so a released number never gains rows.

**What it assumes** (the first two broken on purpose in
``tests/integration/export/test_write_order.py``):

- *One clock, the server's*: ``$$NOW`` when a number is given and ``hello``'s ``localTime`` when
  the export judges an entry expired. Writers' clocks play no part. On a replica set the
  members' clocks agree to well within the lease (NTP), since a failover changes whose clock it
  is.
- *A page commits within* :data:`LEASE_SECONDS` *of its reservation, or its writer learns it
  did not*: a writer times (monotonic clock) its reservation to its last write's
  acknowledgement and, at :data:`LEASE_SECONDS` or more, writes the page again under a new
  number (:func:`under_number`). What stays assumed is that a writer that dies (a worker's hard
  time limit is 600 s; a lost machine), or whose write failed without the server's answer (a
  time limit inside it, a network error: the entry is kept, not released), has no write still
  pending on the server :data:`LEASE_SECONDS` after it reserved. Its entry then expires and the
  account's export goes on.
- *Writes acknowledged by the primary and the export reading the primary* (the defaults).

**When the numbering starts again.** The account's document can be lost or reset: deleted by
hand, a MongoDB restored from a backup, a new numbering after an upgrade. Its numbers would
then restart below marks the warehouse holds, and rows numbered below a mark are never read.
Two defences: (1) a document created again starts above every number the account's rows (and
removals, :mod:`metasync.models.deletions`) still carry (:data:`NUMBERED_COLLECTIONS`, one
indexed read each, on creation only), and carries a new ``epoch`` (a random id given when the
document is created); every export mark stores the epoch it was taken in, and an export that
finds another epoch, or a mark past the ``last`` number given (the same document restored
from a backup older than the mark), reads the account again from the start, once (rows are
merged by key, so rows read twice are harmless). What stays assumed: a restore from a backup
older than a mark that is then written past the mark before any export runs keeps its epoch
and cannot be told apart; after such a restore, delete the restored ``write_sequences``
documents (every account is then read again once by its next export).

**Trade-offs.** A page costs two more commands (reserve and release: 1.4 ms and 1.1 ms on
SecantusDB, against about 590 ms for the bulk write of 500 daily rows). A writer that dies
holds back its account's later rows (not other accounts') for up to :data:`LEASE_SECONDS`.
Rows with no number (written by an earlier metasync, or whose number a bulk change removed to
have them exported again, ``{"$unset": {"seq": ""}}``) are numbered by the next export that
reads the account (:func:`number_unnumbered`), at most the export's batch of rows per number:
one indexed read per account and collection when there are none.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, NamedTuple, TypeVar

from mongoengine import DictField, Document, ListField, LongField, StringField
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from metasync.models.base import BASE_META

__all__ = [
    "ANSWERED",
    "LEASE_SECONDS",
    "NUMBERED_COLLECTIONS",
    "LateWrite",
    "Position",
    "WriteSequence",
    "number_unnumbered",
    "position",
    "release",
    "reserve",
    "server_time",
    "under_number",
    "watermark",
]

log = logging.getLogger(__name__)

# Longer than a sync task's hard time limit (600 s, workers/base.py) with room for a write the
# server queued; a writer that died holds its account's export back this long at most.
LEASE_SECONDS = 1800
ATTEMPTS = 3  # pages written again under a new number before giving up (each took the lease)
# errors that prove the server finished with a write (it answered): its number may be released
ANSWERED: tuple[type[BaseException], ...] = (BulkWriteError, WriteError)
# the collections whose rows carry a write number: a new numbering starts above all of them
NUMBERED_COLLECTIONS = ("daily_insights", "report_rows", "export_deletions", "leads")

T = TypeVar("T")


class LateWrite(RuntimeError):
    """A page took longer than the lease to write, every time it was tried: its rows may lie
    behind an export's mark. Raised after :data:`ATTEMPTS` tries; retrying the task writes it
    again."""


class WriteSequence(Document):  # type: ignore[misc]
    """The write numbers of one ad account: the last given and those still being written."""

    tenant_id = StringField(required=True)
    account_id = StringField(required=True)
    last = LongField(default=0)
    inflight = ListField(DictField())  # {"seq": n, "at": the server's time it was given}
    # which numbering this is: a new id each time the document is created (None: created by
    # an earlier metasync); an export mark of another epoch is not trusted
    epoch = StringField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "write_sequences",
        "indexes": [{"fields": ["tenant_id", "account_id"], "unique": True}],
    }


def _live(lease_ms: int) -> dict[str, Any]:
    """The in-flight entries the server's clock says are within the lease. Compared as
    milliseconds: SecantusDB 0.7 answers false to any comparison of ``$$NOW`` with a stored
    date (MongoDB compares either way)."""
    since = {"$subtract": [{"$toLong": "$$NOW"}, lease_ms]}
    entries = {"$ifNull": ["$inflight", []]}
    return {"$filter": {"input": entries, "cond": {"$gt": [{"$toLong": "$$this.at"}, since]}}}


def reserve(tenant_id: str, account_id: str) -> int:
    """A new write number for the account, registered as in flight (one command; the
    account's first number two more, to create its document)."""
    pipeline = [
        {"$set": {"last": {"$add": [{"$ifNull": ["$last", 0]}, 1]}}},
        {
            "$set": {
                "inflight": {
                    "$concatArrays": [
                        _live(LEASE_SECONDS * 1000),
                        [{"seq": "$last", "at": "$$NOW"}],
                    ]
                }
            }
        },
    ]
    collection = WriteSequence._get_collection()
    where = {"tenant_id": tenant_id, "account_id": account_id}
    for _ in range(2):
        found = collection.find_one_and_update(
            where, pipeline, projection={"last": 1, "_id": 0}, return_document=ReturnDocument.AFTER
        )
        if found is not None:
            return int(found["last"])
        # the account's first number: its document is created apart from the increment.
        # SecantusDB 0.7 answers null to some of several concurrent upserts that it applied
        # (the number given, its entry never released), so the increment never upserts.
        created = {"last": _highest(tenant_id, account_id), "inflight": [], "epoch": _new_epoch()}
        with contextlib.suppress(DuplicateKeyError):  # two first writers: one inserts
            collection.update_one(where, {"$setOnInsert": created}, upsert=True)
    raise RuntimeError(f"write sequence of {tenant_id}/{account_id}: no number given")


def _new_epoch() -> str:
    return uuid.uuid4().hex


def _highest(tenant_id: str, account_id: str) -> int:
    """The largest write number the account's rows carry (0: none): where a new numbering of
    the account starts, so that rows numbered before its document was lost or reset are not
    passed by new numbers (one indexed read per numbered collection)."""
    db = WriteSequence._get_db()
    where = {"tenant_id": tenant_id, "account_id": account_id, "seq": {"$ne": None}}
    highest = 0
    for name in NUMBERED_COLLECTIONS:
        found = db[name].find(where, {"seq": 1, "_id": 0}).sort("seq", -1).limit(1)
        highest = max([highest, *(int(d["seq"]) for d in found if d.get("seq") is not None)])
    return highest


def release(tenant_id: str, account_id: str, seq: int) -> None:
    """The rows numbered ``seq`` are acknowledged: the export may pass the number."""
    WriteSequence._get_collection().update_one(
        {"tenant_id": tenant_id, "account_id": account_id}, {"$pull": {"inflight": {"seq": seq}}}
    )


def under_number(tenant_id: str, account_id: str, write: Callable[[int], T]) -> T:
    """``write(seq)`` under a newly reserved number, released once the write returned, or
    raised an error the server answered with (:data:`ANSWERED`: what was written is
    acknowledged and may be exported). Any other exception, ``BaseException`` too (a soft time
    limit inside the write, a network error: the client has no socket timeout, so the server
    may still be applying it), leaves the number in flight: its rows could commit after a
    release, below an export's mark, so the account's export waits for the entry to expire
    (:data:`LEASE_SECONDS`). When reserving to the end of the
    write took :data:`LEASE_SECONDS` or more, an export may have treated the number as dead and
    passed it: the write runs again under a new number. Raises :class:`LateWrite` after
    :data:`ATTEMPTS` late tries."""
    for attempt in range(1, ATTEMPTS + 1):
        started = time.monotonic()
        seq = reserve(tenant_id, account_id)
        try:
            result = write(seq)
        except ANSWERED:
            release(tenant_id, account_id, seq)  # the server is done with it: failed, answered
            raise
        # any other failure (a time limit, a network error: the server may still be applying
        # the write) keeps the number in flight until its entry expires, LEASE_SECONDS
        took = time.monotonic() - started  # from before the number to the last ack
        release(tenant_id, account_id, seq)
        if took < LEASE_SECONDS:
            return result
        log.warning(
            "a page of account %s (tenant %s) took %.0f s, past the write lease of %d s "
            "(attempt %d of %d): written again under a new number",
            account_id,
            tenant_id,
            took,
            LEASE_SECONDS,
            attempt,
            ATTEMPTS,
        )
    raise LateWrite(
        f"a page of account {account_id} (tenant {tenant_id}) took longer than the write lease "
        f"({LEASE_SECONDS} s) {ATTEMPTS} times; the task's retry writes it again"
    )


def server_time() -> datetime:
    """The MongoDB server's clock (UTC), the only clock write numbers are judged by."""
    return _utc(WriteSequence._get_db().command("hello")["localTime"])


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class Position(NamedTuple):
    """Where an account's numbering stands: its :func:`watermark`, its ``epoch`` (empty: a
    document an earlier metasync created, or none yet) and the ``last`` number given."""

    watermark: int
    epoch: str
    last: int


def position(tenant_id: str, account_id: str, now: datetime) -> Position:
    """The account's numbering as the export sees it (one read). ``now`` is
    :func:`server_time`; an in-flight entry given :data:`LEASE_SECONDS` before it is dead."""
    found = WriteSequence._get_collection().find_one(
        {"tenant_id": tenant_id, "account_id": account_id},
        {"last": 1, "inflight": 1, "epoch": 1, "_id": 0},
    )
    if found is None:
        return Position(1, "", 0)
    since = now - timedelta(seconds=LEASE_SECONDS)
    live = [int(e["seq"]) for e in found.get("inflight") or [] if _utc(e["at"]) > since]
    last = int(found.get("last") or 0)
    return Position(min(live) if live else last + 1, found.get("epoch") or "", last)


def watermark(tenant_id: str, account_id: str, now: datetime) -> int:
    """The account's smallest write number that may still be uncommitted (the smallest live
    in-flight one, else the next to be given): every row numbered below it is committed.
    ``now`` is :func:`server_time`; an entry given :data:`LEASE_SECONDS` before it is dead."""
    return position(tenant_id, account_id, now).watermark


def number_unnumbered(collection: Any, tenant_id: str, account_id: str, chunk: int) -> int:
    """Give the account's rows in ``collection`` that have no write number one, ``chunk`` rows
    per number, each chunk under its own reservation as a page write would be; returns how
    many. One indexed read when there are none.

    Why chunks: the export reads a number's rows again for every batch that ends inside it
    (its mark is the number and the last id; filtering by id within a number keeps the read on
    the (tenant, account, seq) index). A rebuild unnumbers an account's whole history, and one
    number for all of it made an export read ``rows² / batch`` documents; numbers of at most
    the export's batch size keep it ``O(rows)``. Trade-off: two more commands (reserve,
    release) and one read of ids per ``chunk`` rows."""
    if chunk < 1:
        raise ValueError(f"chunk must be a positive number of rows, not {chunk}")
    where = {"tenant_id": tenant_id, "account_id": account_id}
    numbered = 0
    while True:
        found = collection.find({**where, "seq": None}, {"_id": 1}).limit(chunk)
        ids = [d["_id"] for d in found]
        if not ids:
            return numbered
        late: list[int | None] = [None]  # numbers a late try gave this chunk: numbered again

        def number(seq: int, ids: list[Any] = ids, late: list[int | None] = late) -> int:
            # a row a writer rewrote meanwhile has its page's number: left alone
            mine = {**where, "_id": {"$in": ids}, "seq": {"$in": late}}
            changed = collection.update_many(mine, {"$set": {"seq": seq}})
            late.append(seq)
            return int(changed.modified_count)

        numbered += under_number(tenant_id, account_id, number)
