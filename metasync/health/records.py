"""Per-account health kept as documents (:class:`~metasync.models.AccountHealthRecord`), so
that the console's overview, the API's health and ``/metrics`` read them instead of computing
health per account per request (reads: :mod:`metasync.health.pages`).

Written by :func:`refresh_health`: one connection when its run closes or an operator changes
it, a whole tenant once an hour (beat). Each write costs what computing the health of that
connection or tenant costs (:mod:`metasync.health.compute`), paid once per run instead of once
per page view per account. A new record gets the next ``seq`` of its tenant
(:class:`~metasync.models.HealthTenant`), its place in the overview; a refresh of a whole
tenant (hourly) numbers its records again when removed accounts left gaps.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pymongo import ReturnDocument, UpdateOne

from metasync.health.compute import (
    EXPIRING_SECONDS,
    LAGGING_SECONDS,
    AccountHealth,
    tenant_health,
)
from metasync.models import (
    AccountHealthRecord,
    AccountState,
    ConnectionStatus,
    HealthTenant,
    page_key,
    utcnow,
)

__all__ = ["STORED", "keep_health", "refresh_health"]

log = logging.getLogger(__name__)
# what a record keeps of an account's health: the account, its syncs, its access
_ACCOUNT = ("connection_name", "connection_status", "name", "currency", "timezone_name", "state")
_SYNCS = (
    "newest_day",
    "last_entity_sync_at",
    "last_performance_sync_at",
    "last_outcome",
    "last_error",
    "last_error_at",
)
_ACCESS = ("token_expires_at", "data_access_expires_at", "not_opted_in")
STORED = (*_ACCOUNT, *_SYNCS, *_ACCESS)


def _lagging_at(health: AccountHealth) -> datetime | None:
    if health.newest_day is None:
        synced = [t for t in (health.last_entity_sync_at, health.last_performance_sync_at) if t]
        return min(synced) if synced else None
    zone = ZoneInfo(health.timezone_name or "UTC")
    end = datetime.combine(date.fromisoformat(health.newest_day) + timedelta(days=1), time(), zone)
    return end + timedelta(seconds=LAGGING_SECONDS)


def _record_of(health: AccountHealth) -> dict[str, Any]:
    ends = [t for t in (health.token_expires_at, health.data_access_expires_at) if t]
    return {
        **{name: getattr(health, name) for name in STORED},
        "lagging_at": _lagging_at(health),
        "expiring_at": min(ends) - timedelta(seconds=EXPIRING_SECONDS) if ends else None,
        "failing": health.connection_status in ConnectionStatus.BROKEN
        or health.state != AccountState.ACTIVE
        or health.last_outcome == "failed",
        "updated_at": utcnow(),
    }


def _natural_key(tenant_id: str, health: AccountHealth) -> dict[str, str]:
    """The record's key: tenant, connection and account."""
    return {
        "tenant_id": tenant_id,
        "connection_id": health.connection_id,
        "account_id": health.account_id,
    }


def _reserve(tenant_id: str, count: int) -> int:
    """The first of ``count`` new seqs of ``tenant_id`` (atomic: concurrent writers never
    share one)."""
    counters = HealthTenant._get_collection()
    reserve = {"$inc": {"next_seq": count}}
    before = counters.find_one_and_update(
        {"tenant_id": tenant_id}, reserve, upsert=True, return_document=ReturnDocument.BEFORE
    )
    return int((before or {}).get("next_seq", 0))


def _renumber(tenant_id: str) -> None:
    """Give the tenant's records seqs 0..n-1 again, in (connection, account) order."""
    collection = AccountHealthRecord._get_collection()
    records = sorted(
        collection.find({"tenant_id": tenant_id}, {"connection_id": 1, "account_id": 1}),
        key=lambda r: (r["connection_id"], r["account_id"]),
    )
    writes = [
        UpdateOne({"_id": r["_id"]}, {"$set": {"seq": n, "page_key": page_key(tenant_id, n)}})
        for n, r in enumerate(records)
    ]
    if writes:
        collection.bulk_write(writes, ordered=False)
    HealthTenant.objects(tenant_id=tenant_id).update_one(set__next_seq=len(records))


def refresh_health(tenant_id: str, connection_id: str | None = None) -> int:
    """Rewrite the records of ``tenant_id``'s accounts (of ``connection_id`` only, when given)
    and drop those of accounts no longer held; returns the records written."""
    found = tenant_health([tenant_id], connection_id=connection_id)
    collection = AccountHealthRecord._get_collection()
    scope = {"tenant_id": tenant_id, **({"connection_id": connection_id} if connection_id else {})}
    existing = {
        (r["connection_id"], r["account_id"]): r["_id"]
        for r in collection.find(scope, {"connection_id": 1, "account_id": 1})
    }
    new = [h for h in found if (h.connection_id, h.account_id) not in existing]
    first = _reserve(tenant_id, len(new)) if new else 0
    seqs = {(h.connection_id, h.account_id): first + n for n, h in enumerate(new)}
    writes = []
    for h in found:
        natural = _natural_key(tenant_id, h)
        change: dict[str, Any] = {"$set": _record_of(h)}
        seq = seqs.get((h.connection_id, h.account_id))
        if seq is not None:
            change["$setOnInsert"] = {"seq": seq, "page_key": page_key(tenant_id, seq)}
        writes.append(UpdateOne(natural, change, upsert=True))
    inserted = collection.bulk_write(writes, ordered=False).upserted_count if writes else 0
    held = {(h.connection_id, h.account_id) for h in found}
    gone = [record_id for key, record_id in existing.items() if key not in held]
    removed = collection.delete_many({"_id": {"$in": gone}}).deleted_count if gone else 0
    counters = HealthTenant._get_collection()
    if connection_id is None:  # the whole tenant: its records are exactly those found
        count = {"$set": {"accounts": len(found)}}
        counter = counters.find_one_and_update(
            {"tenant_id": tenant_id}, count, upsert=True, return_document=ReturnDocument.AFTER
        )
        if counter.get("next_seq", 0) != len(found):
            _renumber(tenant_id)  # gaps left by removed accounts: pages full again
    elif inserted or removed:  # what this write changed (the hourly refresh sets it exact)
        counters.update_one(
            {"tenant_id": tenant_id}, {"$inc": {"accounts": inserted - removed}}, upsert=True
        )
    return len(writes)


def keep_health(tenant_id: str, connection_id: str) -> None:
    """:func:`refresh_health` of one connection, for code that must not fail because of it (a
    run closing, an operator's change): a failure is logged, and beat's hourly refresh writes
    the records again."""
    try:
        refresh_health(tenant_id, connection_id)
    except Exception:
        log.exception("could not refresh the health of connection %s", connection_id)
