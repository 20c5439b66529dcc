"""``AccountHealthRecord``: one document per ad account of a connection, what the console's
overview, the API's health and ``/metrics`` read instead of computing health per account.

Written when a run of the connection closes, when an operator changes the connection, and once
an hour by beat as a safety net (:mod:`metasync.health.records`). What depends on the clock is
stored as the moment it becomes true (``lagging_at``, ``expiring_at``), so a page filters by
flag with one indexed query and the stored record never goes stale with time alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import BooleanField, DateTimeField, Document, ListField, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["AccountHealthRecord"]


class AccountHealthRecord(Document):  # type: ignore[misc]
    tenant_id = StringField(required=True)
    connection_id = StringField(required=True)
    account_id = StringField(required=True)  # numeric, without "act_"
    connection_name = StringField(default="")
    connection_status = StringField(default="")
    name = StringField(default="")
    currency = StringField(default="")
    timezone_name = StringField(default="UTC")
    state = StringField(default="active")
    newest_day = StringField()
    last_entity_sync_at = DateTimeField()
    last_performance_sync_at = DateTimeField()
    last_outcome = StringField()
    last_error = StringField()
    last_error_at = DateTimeField()
    token_expires_at = DateTimeField()
    data_access_expires_at = DateTimeField()
    not_opted_in = ListField(StringField())
    lagging_at = DateTimeField()  # from then on the account is lagging (None: never)
    expiring_at = DateTimeField()  # from then on its token or data access is expiring
    failing = BooleanField(default=False)
    updated_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "account_health",
        "indexes": [
            {"fields": ["tenant_id", "connection_id", "account_id"], "unique": True},
            {"fields": ["account_id", "connection_id"]},
            {"fields": ["name"]},
            {"fields": ["lagging_at"]},
            {"fields": ["expiring_at"]},
            {"fields": ["failing"]},
        ],
    }
