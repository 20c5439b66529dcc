"""Reading an account's rows in write-number order: the export's one way through a mirror
collection, batch by batch from its mark up to the watermark (see
:mod:`metasync.models.numbering` for why the order is the database's and not a clock's), and
whether a mark can be trusted as a position in the account's numbering (:func:`distrust`).
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from metasync.export.warehouse import Mark
from metasync.models.numbering import Position

__all__ = ["distrust", "next_batch"]


def distrust(mark: Mark | None, at: Position) -> str | None:
    """Why ``mark`` is no position in the account's numbering as it stands ``at`` (None: it
    is one, or there is no mark): then the account's rows are read again from the start,
    merged by key. A mark by the writers' clocks (an earlier metasync); one of another
    numbering (the account's sequence document was created again: another ``epoch``); one
    past the last number given (the numbering went back: a mirror restored from a backup
    older than the mark)."""
    if mark is None:
        return None
    if mark.seq is None:
        return "a mark by the writers' clocks"
    if mark.epoch != at.epoch:
        return "another numbering of the account"
    if mark.seq > at.last:
        return f"a mark ({mark.seq}) past the last number given ({at.last})"
    return None


def next_batch(
    collection: Any, tenant: str, account: str, mark: Mark | None, below: int, batch: int
) -> list[dict[str, Any]]:
    """The next ``batch`` rows of ``tenant``'s ``account`` after ``mark`` and below the
    watermark ``below``, in (number, id) order: the rest of the mark's own number (by id), then
    later numbers. Two reads rather than one ``$or``, so each walks the (tenant, account, seq)
    index."""
    where = {"tenant_id": tenant, "account_id": account}
    order = [("seq", 1), ("_id", 1)]
    docs: list[dict[str, Any]] = []
    if mark is not None and mark.last_id:
        # one number holds one page's rows (a writer's page, or at most a batch of rows
        # numbered by number_unnumbered), so this re-read is bounded; filtering ids here keeps
        # the read on the (tenant, account, seq) index (an _id range makes planners pick _id's)
        same = collection.find({**where, "seq": mark.seq}).sort(order)
        docs = [d for d in same if d["_id"] > ObjectId(mark.last_id)][:batch]
    if len(docs) < batch:
        after = mark.seq if mark is not None else 0
        later = {**where, "seq": {"$gt": after, "$lt": below}}
        docs += list(collection.find(later).sort(order).limit(batch - len(docs)))
    return docs
