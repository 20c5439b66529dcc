"""``AccountSyncState``: what metasync knows about one ad account of one connection.

Watermarks live here, per account, so one failing account costs only itself: the others keep
their incremental entity syncs and recent-days performance syncs. An account Meta stops
listing for the token (re-discovery) or refusing (permission) is kept with a reason and stops
costing calls, instead of being forgotten or retried every run.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, Document, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["AccountState", "AccountSyncState"]


class AccountState:
    ACTIVE = "active"
    LOST = "lost"  # no longer in /me/adaccounts: not synced until it comes back
    UNREADABLE = "unreadable"  # Meta refuses the account: probed once per discovery interval
    ALL = (ACTIVE, LOST, UNREADABLE)


class AccountSyncState(Document):  # type: ignore[misc]
    connection_id = StringField(required=True)
    account_id = StringField(required=True)  # numeric, without "act_"
    tenant_id = StringField(required=True)
    state = StringField(choices=AccountState.ALL, default=AccountState.ACTIVE)
    reason = StringField()  # why it is lost or unreadable, in plain words
    state_since = DateTimeField()
    last_entity_sync_at = DateTimeField()  # start of the last run that synced its entities
    last_full_sync_at = DateTimeField()  # start of the last full reconciliation of it
    last_performance_sync_at = DateTimeField()
    last_lookback_at = DateTimeField()  # last performance run that re-read the lookback window
    last_outcome = StringField()  # succeeded | failed, of the last run that planned it
    last_error = StringField()
    last_error_at = DateTimeField()
    last_probe_at = DateTimeField()  # last time an unreadable account was tried again
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "account_sync_states",
        "indexes": [
            {"fields": ["connection_id", "account_id"], "unique": True},
            {"fields": ["tenant_id", "state"]},
        ],
    }
