"""Per-account health kept as documents (:class:`~metasync.models.AccountHealthRecord`), and the
reads that make the console's overview, the API's health and ``/metrics`` cost the same at any
number of accounts.

- **Written** by :func:`refresh_health`: one connection when its run closes or an operator
  changes it, a whole tenant once an hour (beat). Each write costs what computing the health of
  that connection or tenant costs (:mod:`metasync.health.compute`), paid once per run instead
  of once per page view per account.
- **Read** by :func:`health_page` (one page: one ``find`` with ``skip``/``limit`` on an index,
  four ``count`` commands for the totals per flag and one Redis ``MGET`` of the page's
  throttles, whatever the number of accounts; deep pages skip index entries, 50 per page) and
  by :func:`every_health` (one ``find`` of every record in a single batch, for ``/metrics``).

Lag and flags are derived at read time from what is stored and the clock, with the same rules
as the live computation (:func:`~metasync.health.compute.flags_of`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
from pymongo import UpdateOne

from metasync.health.compute import (
    EXPIRING_SECONDS,
    LAGGING_SECONDS,
    AccountHealth,
    add_throttles,
    flags_of,
    lag_seconds,
    tenant_health,
)
from metasync.keys import RedisKeys
from metasync.models import AccountHealthRecord, AccountState, ConnectionStatus, aware, utcnow

__all__ = [
    "FLAGS",
    "PAGE_SIZE",
    "HealthPage",
    "every_health",
    "health_page",
    "keep_health",
    "one_health",
    "refresh_health",
]

log = logging.getLogger(__name__)
FLAGS = ("lagging", "expiring", "failing")
PAGE_SIZE = 50
SCAN_BATCH = 100_000  # /metrics reads every record in one batch: one command, not one per 101
STORED = ("connection_name", "connection_status", "name", "currency", "timezone_name", "state",
          "newest_day", "last_entity_sync_at", "last_performance_sync_at", "last_outcome",
          "last_error", "last_error_at", "token_expires_at", "data_access_expires_at",
          "not_opted_in")  # fmt: skip


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


def refresh_health(tenant_id: str, connection_id: str | None = None) -> int:
    """Rewrite the records of ``tenant_id``'s accounts (of ``connection_id`` only, when given)
    and drop those of accounts no longer held; returns the records written."""
    found = tenant_health([tenant_id], connection_id=connection_id)
    collection = AccountHealthRecord._get_collection()
    writes = [
        UpdateOne(
            {
                "tenant_id": h.tenant_id,
                "connection_id": h.connection_id,
                "account_id": h.account_id,
            },
            {"$set": _record_of(h)},
            upsert=True,
        )
        for h in found
    ]
    if writes:
        collection.bulk_write(writes, ordered=False)
    held = {(h.connection_id, h.account_id) for h in found}
    scope = {"tenant_id": tenant_id, **({"connection_id": connection_id} if connection_id else {})}
    gone = [
        r["_id"]
        for r in collection.find(scope, {"connection_id": 1, "account_id": 1})
        if (r["connection_id"], r["account_id"]) not in held
    ]
    for record_id in gone:
        collection.delete_one({"_id": record_id})
    return len(writes)


def keep_health(tenant_id: str, connection_id: str) -> None:
    """:func:`refresh_health` of one connection, for code that must not fail because of it (a
    run closing, an operator's change): a failure is logged, and beat's hourly refresh writes
    the records again."""
    try:
        refresh_health(tenant_id, connection_id)
    except Exception:
        log.exception("could not refresh the health of connection %s", connection_id)


def _health_of(record: dict[str, Any], now: datetime) -> AccountHealth:
    stored: dict[str, Any] = {
        name: aware(record.get(name)) if name.endswith("_at") else record.get(name)
        for name in STORED
    }
    health = AccountHealth(
        tenant_id=record["tenant_id"], connection_id=record["connection_id"],
        account_id=record["account_id"], **stored,
    )  # fmt: skip
    health.name, health.currency = health.name or "", health.currency or ""
    health.timezone_name = health.timezone_name or "UTC"
    health.not_opted_in = list(health.not_opted_in or [])
    health.lag_seconds = lag_seconds(health.newest_day, health.timezone_name, now)
    return health


def _finish(
    found: list[AccountHealth], client: redis.Redis | None, keys: RedisKeys, now: datetime
) -> list[AccountHealth]:
    add_throttles(found, client, keys, now)
    for health in found:
        health.flags = flags_of(health, now)
    return found


@dataclass
class HealthPage:
    """One page of the overview, with the number of accounts of each flag (same search)."""

    accounts: list[AccountHealth]
    counts: dict[str, int] = field(default_factory=dict)
    page: int = 1
    more: bool = False


def _flag_filter(flag: str, now: datetime) -> dict[str, Any]:
    filters: dict[str, dict[str, Any]] = {
        "lagging": {"lagging_at": {"$lte": now}},
        "expiring": {"expiring_at": {"$lte": now}},
        "failing": {"failing": True},
    }
    return filters[flag]


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
    scope: dict[str, Any] = {}
    if tenant:
        scope["tenant_id"] = tenant
    if search:
        scope.update({"account_id": search.removeprefix("act_")} if search.removeprefix(
            "act_").isdigit() else {"name": {"$regex": "^" + re.escape(search)}})  # fmt: skip
    collection = AccountHealthRecord._get_collection()
    counts = {"all": collection.count_documents(scope)}
    for name in FLAGS:
        counts[name] = collection.count_documents({**scope, **_flag_filter(name, now)})
    query = {**scope, **(_flag_filter(flag, now) if flag in FLAGS else {})}
    order = [("tenant_id", 1), ("connection_id", 1), ("account_id", 1)]
    rows = list(collection.find(query).sort(order).skip((page - 1) * size).limit(size + 1))
    found = _finish([_health_of(r, now) for r in rows[:size]], client, keys, now)
    return HealthPage(found, counts, page, more=len(rows) > size)


def one_health(
    client: redis.Redis | None, keys: RedisKeys, connection_id: str, account_id: str
) -> AccountHealth | None:
    """One account's health as its connection holds it (None when it does not)."""
    now = utcnow()
    record: dict[str, Any] | None = AccountHealthRecord._get_collection().find_one(
        {"connection_id": connection_id, "account_id": account_id}
    )
    return None if record is None else _finish([_health_of(record, now)], client, keys, now)[0]


def every_health(
    client: redis.Redis | None,
    keys: RedisKeys,
    tenant: str | None = None,
    now: datetime | None = None,
) -> list[AccountHealth]:
    """Every account's health (of ``tenant`` only, when given), read in one batch."""
    now = now or utcnow()
    scope = {"tenant_id": tenant} if tenant else {}
    order = [("tenant_id", 1), ("connection_id", 1), ("account_id", 1)]
    rows = AccountHealthRecord._get_collection().find(scope, batch_size=SCAN_BATCH).sort(order)
    return _finish([_health_of(r, now) for r in rows], client, keys, now)
