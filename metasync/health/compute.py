"""Freshness and health of a tenant's ad accounts, computed from the mirror: what
:mod:`metasync.health.records` keeps per account for the console, the API and the metrics.

- **Freshness lag**: now minus the end of the newest day the mirror holds complete rows for, in
  the account's time zone. An account whose yesterday is mirrored lags less than a day; one
  whose yesterday is missing 6 hours after its midnight lags more than :data:`LAGGING_SECONDS`
  (30 hours) and is flagged ``lagging``. An account with no rows at all has no lag (None) and
  is flagged lagging once it has been synced at least once.
- **Expiring**: the connection's token or its data access ends within :data:`EXPIRING_SECONDS`
  (7 days).
- **Failing**: the connection's token expired or was revoked, or it is in error (a paused one is
  not failing), the account is lost or unreadable, or the last run that planned it failed.
- **Throttled until**: the latest block the rate governor holds for the account or its
  connection (Redis, :func:`add_throttles`, read with whatever page shows the accounts).

Cost, for a whole tenant: one aggregation of its account-level daily rows of the last 14 days
(newest date per account; an account with none in them costs one indexed read of its newest
row) and one query each for accounts, connections and account states. For one connection (a
run closing): a few indexed reads per account of that connection, nothing tenant-wide but the
tenant's not-opted-in reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis

from metasync.keys import RedisKeys
from metasync.models import (
    AccountState,
    AccountSyncState,
    AdAccount,
    ConnectionStatus,
    DailyInsight,
    MetaConnection,
    ReportAccess,
    ReportAccessState,
    aware,
    utcnow,
)

__all__ = [
    "EXPIRING_SECONDS",
    "LAGGING_SECONDS",
    "AccountHealth",
    "add_throttles",
    "flags_of",
    "lag_seconds",
    "tenant_health",
]

LAGGING_SECONDS = 30 * 3600
ACCOUNT_FIELDS = ("meta_id", "name", "currency", "timezone_name")  # what health reads of one
RECENT_DAYS = 14
EXPIRING_SECONDS = 7 * 86400


@dataclass
class AccountHealth:
    """One ad account of one connection, as an operator needs it (times in UTC)."""

    tenant_id: str
    connection_id: str
    connection_name: str
    connection_status: str
    account_id: str
    name: str = ""
    currency: str = ""
    timezone_name: str = "UTC"
    state: str = AccountState.ACTIVE
    newest_day: str | None = None
    lag_seconds: float | None = None
    last_entity_sync_at: datetime | None = None
    last_performance_sync_at: datetime | None = None
    last_outcome: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    token_expires_at: datetime | None = None
    data_access_expires_at: datetime | None = None
    throttled_until: datetime | None = None
    flags: list[str] = field(default_factory=list)
    not_opted_in: list[str] = field(default_factory=list)  # reports Meta withholds

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def newest_days(
    tenant_id: str, accounts: Iterable[str], today: date, whole_tenant: bool = True
) -> dict[str, str]:
    """Account id -> the newest date of its account-level daily rows. For a whole tenant, one
    ``$group`` over the last :data:`RECENT_DAYS` days (bounded however long the history), then
    one indexed read of the newest row for each account with none in them (rare: accounts long
    out of date); for a few accounts (one connection's), that indexed read each."""
    found: dict[str, str] = {}
    if whole_tenant:
        since = (today - timedelta(days=RECENT_DAYS)).isoformat()
        recent_account_rows = {
            "tenant_id": tenant_id,
            "level": "account",
            "breakdown_key": "",
            "date": {"$gte": since},
        }
        newest_per_account = {"_id": "$account_id", "newest": {"$max": "$date"}}
        pipeline = [{"$match": recent_account_rows}, {"$group": newest_per_account}]
        found = {row["_id"]: row["newest"] for row in DailyInsight.objects.aggregate(pipeline)}
    for account_id in set(accounts) - set(found):
        rows = DailyInsight.objects(tenant_id=tenant_id, account_id=account_id, level="account")
        older = rows.order_by("-date").only("date").first()
        if older is not None:
            found[account_id] = older.date
    return found


def lag_seconds(newest: str | None, timezone_name: str | None, now: datetime) -> float | None:
    """Seconds since the end of ``newest`` (YYYY-MM-DD) in the account's time zone."""
    if newest is None:
        return None
    zone = ZoneInfo(timezone_name or "UTC")
    end = datetime.combine(date.fromisoformat(newest) + timedelta(days=1), time(), zone)
    return max(0.0, (now - end).total_seconds())


def add_throttles(
    found: list[AccountHealth], client: redis.Redis | None, keys: RedisKeys, now: datetime
) -> None:
    """Set each entry's ``throttled_until``: the later of its account's and its connection's
    blocks, all read in one ``MGET``."""
    if client is None or not found:
        return
    names = [
        name
        for h in found
        for name in (
            keys.blocked("account", h.account_id),
            keys.blocked("connection", h.connection_id),
        )
    ]
    values = client.mget(names)
    for index, health in enumerate(found):
        pair = values[2 * index : 2 * index + 2]
        latest = max((int(v) for v in pair if v is not None), default=0)
        until = datetime.fromtimestamp(latest / 1000, UTC)
        health.throttled_until = until if until > now else None


def flags_of(health: AccountHealth, now: datetime) -> list[str]:
    flags = []
    synced = health.last_entity_sync_at or health.last_performance_sync_at
    lag = health.lag_seconds
    if (lag is not None and lag > LAGGING_SECONDS) or (lag is None and synced is not None):
        flags.append("lagging")
    ends = [t for t in (health.token_expires_at, health.data_access_expires_at) if t is not None]
    if any((t - now).total_seconds() < EXPIRING_SECONDS for t in ends):
        flags.append("expiring")
    if (
        health.connection_status in ConnectionStatus.BROKEN
        or health.state != AccountState.ACTIVE
        or health.last_outcome == "failed"
    ):
        flags.append("failing")
    return flags


def _states(found: Iterable[AccountSyncState]) -> dict[tuple[str, str], AccountSyncState]:
    """Sync states by (connection id, account id)."""
    return {(state.connection_id, state.account_id): state for state in found}


def _one_connection(
    tenant_id: str, connection_id: str, today: date
) -> tuple[list[MetaConnection], dict[str, AdAccount], dict[tuple[str, str], Any], dict[str, str]]:
    """What :func:`tenant_health` reads for one connection, in reads of its own accounts only
    (a run closing pays for its connection, not for its tenant)."""
    connections = list(MetaConnection.objects(tenant_id=tenant_id, pk=connection_id))
    states = _states(AccountSyncState.objects(connection_id=connection_id))
    held = {a for c in connections for a in c.ad_account_ids or []} | {a for _, a in states}
    accounts = {}
    for account_id in held:
        found = AdAccount.objects(tenant_id=tenant_id, meta_id=f"act_{account_id}")
        account = found.only(*ACCOUNT_FIELDS).first()
        if account is not None:
            accounts[account_id] = account
    return connections, accounts, states, newest_days(tenant_id, held, today, whole_tenant=False)


def _whole_tenant(
    tenant_id: str, today: date
) -> tuple[list[MetaConnection], dict[str, AdAccount], dict[tuple[str, str], Any], dict[str, str]]:
    """What :func:`tenant_health` reads for every connection of a tenant."""
    found = AdAccount.objects(tenant_id=tenant_id).only(*ACCOUNT_FIELDS)
    accounts = {account.meta_id.removeprefix("act_"): account for account in found}
    states = _states(AccountSyncState.objects(tenant_id=tenant_id))
    connections = list(MetaConnection.objects(tenant_id=tenant_id).order_by("created_at"))
    held = {a for c in connections for a in c.ad_account_ids or []} | {a for _, a in states}
    return connections, accounts, states, newest_days(tenant_id, held, today)


def tenant_health(
    tenant_ids: Iterable[str], now: datetime | None = None, connection_id: str | None = None
) -> list[AccountHealth]:
    """Every ad account of every connection of ``tenant_ids`` (of ``connection_id`` only, when
    given), with its health (throttles are not read: they are Redis's, read with a page)."""
    now = now or utcnow()
    found: list[AccountHealth] = []
    for tenant_id in tenant_ids:
        connections, accounts, states, newest = (
            _one_connection(tenant_id, connection_id, now.date())
            if connection_id
            else _whole_tenant(tenant_id, now.date())
        )
        withheld: dict[str, list[str]] = {}
        for access in ReportAccess.objects(
            tenant_id=tenant_id, state=ReportAccessState.NOT_OPTED_IN
        ).only("account_id", "report"):
            withheld.setdefault(access.account_id, []).append(access.report)
        for connection in connections:
            held_by = str(connection.pk)
            held = set(connection.ad_account_ids or []) | {a for c, a in states if c == held_by}
            for account_id in sorted(held):
                account, state = accounts.get(account_id), states.get((held_by, account_id))
                zone = account.timezone_name if account is not None else None
                health = AccountHealth(
                    tenant_id=tenant_id,
                    connection_id=held_by,
                    connection_name=connection.name or f"Meta user {connection.meta_user_id}",
                    connection_status=connection.status,
                    account_id=account_id,
                    name=(account.name or "") if account is not None else "",
                    currency=(account.currency or "") if account is not None else "",
                    timezone_name=zone or "UTC",
                    state=state.state if state is not None else AccountState.ACTIVE,
                    newest_day=newest.get(account_id),
                    lag_seconds=lag_seconds(newest.get(account_id), zone, now),
                    last_entity_sync_at=aware(state.last_entity_sync_at if state else None),
                    last_performance_sync_at=aware(
                        state.last_performance_sync_at if state else None
                    ),
                    last_outcome=state.last_outcome if state is not None else None,
                    last_error=(state.last_error if state else None) or connection.last_error,
                    last_error_at=aware(
                        (state.last_error_at if state else None) or connection.last_error_at
                    ),
                    token_expires_at=aware(connection.token_expires_at),
                    data_access_expires_at=aware(connection.data_access_expires_at),
                    not_opted_in=sorted(withheld.get(account_id, [])),
                )
                found.append(health)
    for health in found:
        health.flags = flags_of(health, now)
    return found
