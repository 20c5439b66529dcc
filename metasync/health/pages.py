"""Reading the kept health records at a cost that does not grow with the number of accounts.

- :func:`health_page`, the overview: without a flag or a search, a page is a range of
  ``page_key`` worked out from the per-tenant counters (one small query), so the page's query
  touches only the page's own records; the total comes from the counters and each flag's count
  from its own index (a count touches the flagged accounts only). With a flag or a search, the
  page is a sorted, skipped query over the accounts that match. 50 accounts a page; a page may
  show fewer where accounts were removed since the tenant was last numbered.
- :func:`one_health`: one account's page. :func:`every_health`: every record in one batch, for
  ``/metrics`` and a tenant's API health.

Lag and flags are derived at read time from what is stored and the clock, with the same rules
as the live computation (:func:`~metasync.health.compute.flags_of`); throttles come from Redis
(one ``MGET`` for what is read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from metasync.health.compute import AccountHealth, add_throttles, flags_of, lag_seconds
from metasync.health.records import STORED
from metasync.keys import RedisKeys
from metasync.models import AccountHealthRecord, HealthTenant, aware, page_key, utcnow

__all__ = [
    "FLAGS",
    "PAGE_SIZE",
    "SCAN_BATCH",
    "HealthPage",
    "every_health",
    "health_of",
    "health_page",
    "one_health",
]

FLAGS = ("lagging", "expiring", "failing")
PAGE_SIZE = 50
SCAN_BATCH = 100_000  # /metrics reads every record in one batch: one command, not one per 101


@dataclass
class HealthPage:
    """One page of the overview, with the number of accounts of each flag (same search)."""

    accounts: list[AccountHealth]
    counts: dict[str, int] = field(default_factory=dict)
    page: int = 1
    more: bool = False


def _health_of(record: dict[str, Any], now: datetime) -> AccountHealth:
    stored: dict[str, Any] = {
        name: aware(record.get(name)) if name.endswith("_at") else record.get(name)
        for name in STORED
    }
    health = AccountHealth(
        tenant_id=record["tenant_id"],
        connection_id=record["connection_id"],
        account_id=record["account_id"],
        **stored,
    )
    health.name, health.currency = health.name or "", health.currency or ""
    health.timezone_name = health.timezone_name or "UTC"
    health.not_opted_in = list(health.not_opted_in or [])
    health.lag_seconds = lag_seconds(health.newest_day, health.timezone_name, now)
    return health


def health_of(record: dict[str, Any], now: datetime) -> AccountHealth:
    """One kept record as an :class:`AccountHealth` with its lag and flags (throttles are not
    read)."""
    health = _health_of(record, now)
    health.flags = flags_of(health, now)
    return health


def _search_filter(search: str) -> dict[str, Any]:
    """The records ``search`` finds: an account id (with or without ``act_``), or the start
    of an account's name."""
    number = search.removeprefix("act_")
    if number.isdigit():
        return {"account_id": number}
    return {"name": {"$regex": "^" + re.escape(search)}}


def _finish(
    records: list[dict[str, Any]], client: redis.Redis | None, keys: RedisKeys, now: datetime
) -> list[AccountHealth]:
    found = [_health_of(r, now) for r in records]
    add_throttles(found, client, keys, now)
    for health in found:
        health.flags = flags_of(health, now)
    return found


def _flag_filter(flag: str, now: datetime) -> dict[str, Any]:
    filters: dict[str, dict[str, Any]] = {
        "lagging": {"lagging_at": {"$lte": now}},
        "expiring": {"expiring_at": {"$lte": now}},
        "failing": {"failing": True},
    }
    return filters[flag]


def _counters(tenant: str | None) -> list[dict[str, Any]]:
    """The per-tenant counters (of ``tenant`` only, when given), by tenant: one query."""
    fields = {"tenant_id": 1, "next_seq": 1, "accounts": 1}
    found = HealthTenant._get_collection().find({"tenant_id": tenant} if tenant else {}, fields)
    return list(found.sort("tenant_id", 1))


def _key_range(counters: list[dict[str, Any]], start: int, end: int) -> dict[str, Any]:
    """The ``page_key`` range of places ``start``..``end`` (end excluded) in the overview's
    order."""
    low = high = None
    offset = 0
    for counter in counters:
        span = int(counter.get("next_seq", 0))
        if low is None and start < offset + span:
            low = page_key(counter["tenant_id"], start - offset)
        if low is not None and end < offset + span:
            high = page_key(counter["tenant_id"], end - offset)
            break
        offset += span
    if low is None:  # past the last place: an empty page
        return {"page_key": {"$gt": "\U0010ffff"}}
    return {"page_key": {"$gte": low, **({"$lt": high} if high is not None else {})}}


def health_page(
    client: redis.Redis | None,
    keys: RedisKeys,
    *,
    flag: str | None = None,
    tenant: str | None = None,
    search: str | None = None,
    page: int = 1,
    size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> HealthPage:
    """The accounts of one overview page: of ``tenant`` when given, matching ``search`` (an
    account id, or the start of an account's name), flagged ``flag`` when given."""
    now = now or utcnow()
    collection = AccountHealthRecord._get_collection()
    scope: dict[str, Any] = {"tenant_id": tenant} if tenant else {}
    if search:
        scope.update(_search_filter(search))
    counts: dict[str, int] = {}
    for name in FLAGS:
        counts[name] = collection.count_documents({**scope, **_flag_filter(name, now)})
    start = (page - 1) * size
    counters = [] if search else _counters(tenant)
    counts["all"] = (
        collection.count_documents(scope)
        if search
        else sum(int(c.get("accounts", 0)) for c in counters)
    )
    if flag in FLAGS or search:
        query = {**scope, **(_flag_filter(flag, now) if flag in FLAGS else {})}
        rows = list(collection.find(query).sort("page_key", 1).skip(start).limit(size + 1))
        more, rows = len(rows) > size, rows[:size]
    else:
        rows = list(collection.find(_key_range(counters, start, start + size)).sort("page_key", 1))
        more = start + size < sum(int(c.get("next_seq", 0)) for c in counters)
    return HealthPage(_finish(rows, client, keys, now), counts, page, more)


def one_health(
    client: redis.Redis | None, keys: RedisKeys, connection_id: str, account_id: str
) -> AccountHealth | None:
    """One account's health as its connection holds it (None when it does not)."""
    now = utcnow()
    record: dict[str, Any] | None = AccountHealthRecord._get_collection().find_one(
        {"account_id": account_id, "connection_id": connection_id}
    )
    return None if record is None else _finish([record], client, keys, now)[0]


def every_health(
    client: redis.Redis | None,
    keys: RedisKeys,
    tenant: str | None = None,
    now: datetime | None = None,
    account_id: str | None = None,
) -> list[AccountHealth]:
    """Every account's health (of ``tenant`` only, and of ``account_id`` only, when given, in
    the overview's order), read in one batch."""
    now = now or utcnow()
    collection = AccountHealthRecord._get_collection()
    if tenant:
        scope = {"tenant_id": tenant, **({"account_id": account_id} if account_id else {})}
        rows = collection.find(scope, batch_size=SCAN_BATCH).sort("page_key", 1)
    else:  # /metrics: no order needed, and sorting every record costs the server
        rows = collection.find({}, batch_size=SCAN_BATCH)
    return _finish(list(rows), client, keys, now)
