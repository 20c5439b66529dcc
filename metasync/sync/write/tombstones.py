"""Tombstones: marking objects deleted when a complete full listing no longer returns them.

Meta's edges can end early (a repeated cursor, an error) and a listing that stopped early says
nothing about what it did not return, so only a complete listing of a full run tombstones, and
never by comparing clocks written by different processes: every object a run's listing returns
is marked with the run's id (``last_seen_run``), and the live objects of the edge without that
mark are the candidates.

The decision is a pure function (:func:`decide`) of the candidates, the edge's live count and
the allowed share, so it is tested on plain data. A run that would tombstone more than
``META_TOMBSTONE_MAX_SHARE`` (default 20 %) of an edge's live objects at once confirms each
candidate first by reading it by id, in batches (:func:`confirm_gone`): one that answers is
alive (it is written back with what Meta said) and only those Meta no longer knows are marked.
A listing bug or a Meta incident that hides most of an account then costs a few reads instead
of the mirror.

Deleted campaigns, ad sets and ads: Meta stops listing a deleted object on edges but still
answers for it by id (and serves its insights). A candidate last seen within the insights
lookback (``recent_since``) is therefore always read by id first, once: if Meta answers with
status DELETED its final state is written and it is tombstoned (its daily rows are kept, and
the performance sync goes on reading them with the ``effective_status`` filter); if Meta answers
with another status the listing missed it and it stays alive; if Meta no longer knows it, it is
tombstoned. Libraries (images, videos, ...) cannot all be read by id, so above the share nothing
of them is marked (``confirmable=False``): the next complete listing decides again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mongoengine import Document

from metasync.graph import GraphClient, InvalidRequestError, read_each
from metasync.models import utcnow

__all__ = [
    "TombstoneDecision",
    "TombstoneOutcome",
    "confirm_gone",
    "decide",
    "mark_deleted",
    "tombstone_edge",
]

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
) -> tuple[list[str], list[dict[str, Any]]]:
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


def _deleted(raw: dict[str, Any]) -> bool:
    return "DELETED" in (raw.get("effective_status"), raw.get("status"))


@dataclass(frozen=True)
class TombstoneOutcome:
    marked: int
    confirmed_alive: list[dict[str, Any]]
    reason: str
    final: list[dict[str, Any]] = field(default_factory=list)  # read by id: DELETED at Meta


def tombstone_edge(
    client: GraphClient,
    model: type[Document],
    *,
    tenant_id: str,
    account_id: str,
    run_id: str,
    fields: str,
    max_share: float,
    recent_since: datetime | None = None,
    confirmable: bool = True,
) -> TombstoneOutcome:
    """Tombstone the live objects of one account's edge that run ``run_id``'s complete listing
    did not return: those last seen after ``recent_since`` are read by id first, the others
    are confirmed by id above ``max_share`` (held instead when not ``confirmable``). The
    objects Meta answered for as DELETED are returned in ``final`` for the caller to write;
    they are tombstoned by :func:`mark_deleted` after that write."""
    collection = model._get_collection()
    live_filter = {"tenant_id": tenant_id, "account_id": account_id, "deleted_at": None}
    # One read of the account's live objects on the (tenant, account, deleted_at) index; the
    # run filter is applied here: a server may not use the index for a ``$ne`` beside it
    # (SecantusDB scans the whole collection: one scan per account made a full sync of
    # 1,000 accounts quadratic).
    projection = {"meta_id": 1, "last_seen_run": 1, "last_seen_at": 1, "_id": 0}
    seen = list(collection.find(live_filter, projection))
    live = len(seen)
    missing = [doc for doc in seen if doc.get("last_seen_run") != run_id]
    recent = [
        d["meta_id"]
        for d in missing
        if recent_since is not None
        and d.get("last_seen_at")
        and _aware(d["last_seen_at"]) >= recent_since
    ]
    candidates = [d["meta_id"] for d in missing if d["meta_id"] not in set(recent)]
    decision = decide(candidates, live, max_share)
    mark: list[str] = list(decision.mark)
    alive: list[dict[str, Any]] = []
    final: list[dict[str, Any]] = []
    to_read = [*recent, *(decision.confirm if confirmable else ())]
    if to_read:
        gone, answered = confirm_gone(client, to_read, fields, account_id)
        mark += gone
        final = [raw for raw in answered if _deleted(raw)]
        alive = [raw for raw in answered if not _deleted(raw)]
    marked = 0
    if mark:
        marked = collection.update_many(
            {**live_filter, "meta_id": {"$in": mark}, "last_seen_run": {"$ne": run_id}},
            {"$set": {"deleted_at": utcnow()}},
        ).modified_count
    if missing:
        log.info(
            "tombstones on %s of account %s: %s; marked %d, alive on reading %d",
            model.__name__,
            account_id,
            decision.reason,
            marked,
            len(alive),
            extra={"run_id": run_id},
        )
    return TombstoneOutcome(int(marked), alive, decision.reason, final)


def mark_deleted(model: type[Document], tenant_id: str, ids: Sequence[str]) -> int:
    """Tombstone ``ids`` (objects Meta answered for as DELETED, just written back)."""
    if not ids:
        return 0
    result = model._get_collection().update_many(
        {"tenant_id": tenant_id, "meta_id": {"$in": list(ids)}},
        {"$set": {"deleted_at": utcnow()}},
    )
    return int(result.modified_count)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
