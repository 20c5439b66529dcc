"""Tombstones: marking objects deleted when a complete full listing no longer returns them.

Meta's edges can end early (a repeated cursor, an error) and a listing that stopped early says
nothing about what it did not return, so only a complete listing of a full run tombstones, and
never by comparing clocks written by different processes: every object a run's listing returns
is marked with the run's id (``last_seen_run``), and the live objects of the edge without that
mark are the candidates.

The decision is a pure function (:func:`decide`) of the candidates, the edge's live count and
the allowed share, so it is tested on plain data. A run that would tombstone more than
``META_TOMBSTONE_MAX_SHARE`` (default 20 %) of an edge's live objects at once confirms each
candidate first with ``?ids=`` reads (:func:`confirm_gone`): one that answers is alive (it is
written back with what Meta said) and only those Meta no longer knows are marked. A listing bug
or a Meta incident that hides most of an account then costs a few reads instead of the mirror.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from mongoengine import Document

from metasync.graph import GraphClient, InvalidRequestError, read_each
from metasync.models import utcnow

__all__ = ["TombstoneDecision", "TombstoneOutcome", "confirm_gone", "decide", "tombstone_edge"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TombstoneDecision:
    """What to do with the live objects a complete listing did not return, and why."""

    mark: tuple[str, ...]  # tombstone these now
    confirm: tuple[str, ...]  # read these by id first
    reason: str


def decide(candidates: Sequence[str], live: int, max_share: float) -> TombstoneDecision:
    """``candidates``: ids of live objects the listing did not return; ``live``: the edge's
    live objects before the run; ``max_share``: the share (0-1) that may be marked unconfirmed."""
    ids = tuple(sorted(candidates))
    if not ids:
        return TombstoneDecision((), (), "the listing returned every live object")
    share = len(ids) / max(live, 1)
    if share <= max_share:
        return TombstoneDecision(
            ids,
            (),
            f"{len(ids)} of {live} live objects not listed ({share:.0%} <= {max_share:.0%})",
        )
    return TombstoneDecision(
        (),
        ids,
        f"{len(ids)} of {live} live objects not listed ({share:.0%} > {max_share:.0%}): "
        "each is read by id before it is marked",
    )


def confirm_gone(
    client: GraphClient, ids: Sequence[str], fields: str, account_id: str
) -> tuple[list[str], list[dict[str, object]]]:
    """Read ``ids`` by id (:func:`read_each`): returns (the ids Meta no longer answers for, the
    objects that answered). An id refused for another reason than not existing (a permission
    error) proves nothing: it raises, and nothing is marked."""
    read = read_each(client, list(ids), fields.split(","), account_id=account_id)
    gone: list[str] = []
    for object_id in ids:
        error = read.refused.get(object_id)
        if error is not None and not isinstance(error, InvalidRequestError):
            raise error
        if object_id not in read.found:
            gone.append(object_id)
    return gone, list(read.found.values())


@dataclass(frozen=True)
class TombstoneOutcome:
    marked: int
    confirmed_alive: list[dict[str, object]]
    reason: str


def tombstone_edge(
    client: GraphClient,
    model: type[Document],
    *,
    tenant_id: str,
    account_id: str,
    run_id: str,
    fields: str,
    max_share: float,
) -> TombstoneOutcome:
    """Tombstone the live objects of one account's edge that run ``run_id``'s complete listing
    did not return (confirming them by id first above ``max_share``)."""
    collection = model._get_collection()
    live_filter = {"tenant_id": tenant_id, "account_id": account_id, "deleted_at": None}
    # One read of the account's live objects on the (tenant, account, deleted_at) index; the
    # run filter is applied here: a server may not use the index for a ``$ne`` beside it
    # (SecantusDB scans the whole collection: one scan per account made a full sync of
    # 1,000 accounts quadratic).
    seen = list(collection.find(live_filter, {"meta_id": 1, "last_seen_run": 1, "_id": 0}))
    live = len(seen)
    candidates = [doc["meta_id"] for doc in seen if doc.get("last_seen_run") != run_id]
    decision = decide(candidates, live, max_share)
    mark: list[str] = list(decision.mark)
    alive: list[dict[str, object]] = []
    if decision.confirm:
        gone, alive = confirm_gone(client, decision.confirm, fields, account_id)
        mark += gone
    marked = 0
    if mark:
        marked = collection.update_many(
            {**live_filter, "meta_id": {"$in": mark}, "last_seen_run": {"$ne": run_id}},
            {"$set": {"deleted_at": utcnow()}},
        ).modified_count
    if candidates:
        log.info(
            "tombstones on %s of account %s: %s; marked %d, alive on reading %d",
            model.__name__,
            account_id,
            decision.reason,
            marked,
            len(alive),
            extra={"run_id": run_id},
        )
    return TombstoneOutcome(int(marked), alive, decision.reason)
