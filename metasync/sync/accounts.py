"""Per-account state: watermarks, outcomes, re-discovery and unreadable accounts.

A connection's run plans each ad account from that account's own watermarks
(:class:`~metasync.models.AccountSyncState`), and when the run closes each account's outcome
advances only its own watermarks. One account that keeps failing therefore never turns the
other accounts' syncs into full reconciliations or initial 30-day reads.

Accounts come and go: a connection added without an explicit list reads ``/me/adaccounts``
again every ``META_ACCOUNT_DISCOVERY_HOURS``; new accounts join, accounts no longer listed are
marked ``lost`` (with the reason) and stop costing calls, and come back if Meta lists them
again. An account Meta refuses (permission, not found) is marked ``unreadable`` and tried again
once per discovery interval, not on every run.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mongoengine.errors import NotUniqueError
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from metasync.graph import GraphClient, MetaAPIError
from metasync.models import (
    AccountState,
    AccountSyncState,
    Ad,
    MetaConnection,
    RunPlan,
    RunStatus,
    SyncRun,
    utcnow,
)
from metasync.sync.connections import discover_accounts

__all__ = [
    "Discovery",
    "account_states",
    "accounts_to_read",
    "mark_readable",
    "mark_unreadable",
    "record_outcomes",
    "rediscover",
]

log = logging.getLogger(__name__)

WATERMARKS = (
    "last_entity_sync_at",
    "last_full_sync_at",
    "last_performance_sync_at",
    "last_lookback_at",
)


def account_states(connection: MetaConnection) -> dict[str, AccountSyncState]:
    """The state of every account the connection lists (created on first sight) and of those
    marked lost or unreadable before."""
    connection_id = str(connection.pk)
    states = {s.account_id: s for s in AccountSyncState.objects(connection_id=connection_id)}
    for account_id in connection.ad_account_ids:
        if account_id not in states:
            # an account first seen inherits the connection's watermarks (records written
            # before watermarks were kept per account), so an upgrade costs no full re-read;
            # two runs of one connection (entities, performance) may race to create it
            with contextlib.suppress(NotUniqueError, DuplicateKeyError):
                _create_state(connection, account_id, inherit=True)
            states[account_id] = AccountSyncState.objects.get(
                connection_id=connection_id, account_id=account_id
            )
    return states


def _create_state(connection: MetaConnection, account_id: str, *, inherit: bool) -> None:
    """The state of an account first seen; with ``inherit`` it starts from the connection's
    watermarks (accounts synced before watermarks were kept per account)."""
    inherited = {f"set_on_insert__{name}": getattr(connection, name) for name in WATERMARKS}
    if not inherit:
        inherited = {}
    AccountSyncState.objects(connection_id=str(connection.pk), account_id=account_id).update_one(
        upsert=True,
        set_on_insert__tenant_id=connection.tenant_id,
        set_on_insert__state=AccountState.ACTIVE,
        set_on_insert__created_at=utcnow(),
        **inherited,
    )


def accounts_to_read(
    connection: MetaConnection,
    states: dict[str, AccountSyncState],
    probe_every: timedelta,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """(accounts to sync as usual, unreadable accounts due for a probe). Lost accounts and
    unreadable ones probed less than ``probe_every`` ago cost nothing."""
    usual: list[str] = []
    probe: list[str] = []
    for account_id in connection.ad_account_ids:
        state = states[account_id]
        if state.state == AccountState.ACTIVE:
            usual.append(account_id)
        elif state.state == AccountState.UNREADABLE and (
            state.last_probe_at is None or now - state.last_probe_at >= probe_every
        ):
            probe.append(account_id)
    return usual, probe


def mark_unreadable(connection_id: str, account_id: str, error: MetaAPIError) -> None:
    now = utcnow()
    reason = f"Meta refuses this account: {error.message}"
    AccountSyncState.objects(connection_id=connection_id, account_id=account_id).update_one(
        set__state=AccountState.UNREADABLE,
        set__reason=reason,
        set__last_probe_at=now,
        set__updated_at=now,
        set__last_error=reason,
        set__last_error_at=now,
    )
    log.warning(
        "account %s of connection %s is unreadable: %s; probed again once per discovery interval",
        account_id,
        connection_id,
        error.message,
        extra={"connection_id": connection_id},
    )


def mark_readable(connection_id: str, account_ids: Iterable[str]) -> None:
    """Accounts that answered again (after being unreadable) are synced as usual."""
    ids = list(account_ids)
    if ids:
        AccountSyncState.objects(
            connection_id=connection_id,
            account_id__in=ids,
            state=AccountState.UNREADABLE,
        ).update(set__state=AccountState.ACTIVE, set__reason=None, set__updated_at=utcnow())


@dataclass
class Discovery:
    joined: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def rediscover(client: GraphClient, connection: MetaConnection, now: datetime) -> Discovery:
    """Read ``/me/adaccounts`` again: new accounts join the connection, accounts no longer
    listed are marked lost (kept with the reason), lost ones listed again are active again."""
    listed = discover_accounts(client)
    connection_id = str(connection.pk)
    known = set(connection.ad_account_ids)
    result = Discovery(
        joined=[a for a in listed if a not in known],
        lost=[a for a in connection.ad_account_ids if a not in set(listed)],
    )
    for account_id in result.joined:  # a new account starts without watermarks: read in full
        with contextlib.suppress(NotUniqueError, DuplicateKeyError):
            _create_state(connection, account_id, inherit=False)
    if result.lost:
        AccountSyncState.objects(connection_id=connection_id, account_id__in=result.lost).update(
            set__state=AccountState.LOST,
            set__reason="no longer listed by /me/adaccounts for this token",
            set__state_since=now,
            set__updated_at=now,
        )
    AccountSyncState.objects(
        connection_id=connection_id, account_id__in=listed, state=AccountState.LOST
    ).update(set__state=AccountState.ACTIVE, set__reason=None, set__updated_at=now)
    MetaConnection.objects(pk=connection.pk).update(
        set__ad_account_ids=listed, set__accounts_discovered_at=now, set__updated_at=now
    )
    connection.ad_account_ids = listed
    connection.accounts_discovered_at = now
    if result.joined or result.lost:
        log.info(
            "connection %s: accounts joined %s, lost %s",
            connection_id,
            result.joined,
            result.lost,
            extra={"connection_id": connection_id},
        )
    return result


def record_outcomes(run: SyncRun) -> dict[str, str]:
    """When a run closes: each planned account succeeded unless an error names it (an error
    naming no account fails them all), and only succeeded accounts advance their watermarks."""
    if run.status == RunStatus.SKIPPED:
        return {}
    plan = RunPlan.of(run.pk)
    failing = {e.get("account_id") for e in run.errors}
    everyone_failed = None in failing or run.status == RunStatus.FAILED
    outcomes = {
        account: "failed" if everyone_failed or account in failing else "succeeded"
        for account in plan.accounts
    }
    now = utcnow()
    updates = []
    reread = {
        a for kind in ("initial", "lookback") for a in (plan.period_kinds or {}).get(kind, [])
    }
    for account_id, outcome in outcomes.items():
        values: dict[str, object] = {"last_outcome": outcome, "updated_at": now}
        if outcome == "failed":
            error: dict[str, object] = next(
                (e for e in run.errors if e.get("account_id") in (account_id, None)), {}
            )
            values["last_error"] = f"{error.get('type')}: {error.get('message')}"
            values["last_error_at"] = now
        elif run.kind == "entities":
            values["last_entity_sync_at"] = run.started_at
            if account_id in plan.full_accounts:
                values["last_full_sync_at"] = run.started_at
        elif run.kind == "performance":
            values["last_performance_sync_at"] = run.started_at
            if account_id in reread:
                values["last_lookback_at"] = run.started_at
        key = {"connection_id": run.connection_id, "account_id": account_id}
        updates.append(UpdateOne(key, {"$set": values}))
    if updates:  # one round trip, however many accounts
        AccountSyncState._get_collection().bulk_write(updates, ordered=False)
    by_outcome: dict[str, list[str]] = {}  # outcome -> accounts: two keys, however many accounts
    for account_id, outcome in outcomes.items():
        by_outcome.setdefault(outcome, []).append(account_id)
    RunPlan.record(run.pk, account_outcomes=by_outcome)
    return outcomes


def active_ads(tenant_id: str, account_ids: list[str]) -> dict[str, int]:
    """Each account's ACTIVE ads in the mirror (0 for an account with none or not yet read):
    Meta sizes an account's hourly budgets by them (:mod:`metasync.budgets`)."""
    counts = dict.fromkeys(account_ids, 0)
    if not account_ids:
        return counts
    pipeline = [
        {
            # the tenant's active ads, by equality only (an ``$in`` of 1,000 accounts is not
            # served by an index on every MongoDB-wire server); accounts filtered below
            "$match": {"tenant_id": tenant_id, "effective_status": "ACTIVE", "deleted_at": None}
        },
        {"$group": {"_id": "$account_id", "ads": {"$sum": 1}}},
    ]
    for row in Ad._get_collection().aggregate(pipeline):
        if str(row["_id"]) in counts:
            counts[str(row["_id"])] = int(row["ads"])
    return counts
