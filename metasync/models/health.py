"""``AccountHealthRecord``: one document per ad account of a connection, what the console's
overview, the API's health and ``/metrics`` read instead of computing health per account.

Written when a run of the connection closes, when an operator changes the connection, and once
an hour by beat as a safety net (:mod:`metasync.health.records`). What depends on the clock is
stored as the moment it becomes true (``lagging_at``, ``expiring_at``), so a page filters by
flag with one indexed query and the stored record never goes stale with time alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import BooleanField, DateTimeField, Document, IntField, ListField, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["AccountHealthRecord", "HealthTenant", "page_key"]


def page_key(tenant_id: str, seq: int) -> str:
    """The overview's order: by tenant, then by the order the tenant's accounts arrived. A page
    is a range of these keys, so reading one touches only its own records."""
    return f"{tenant_id}\x1f{seq:010d}"


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
    seq = IntField()  # the account's place among its tenant's (see HealthTenant)
    page_key = StringField()  # page_key(tenant_id, seq)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "account_health",
        "indexes": [
            {"fields": ["tenant_id", "connection_id", "account_id"], "unique": True},
            {"fields": ["page_key"]},
            {"fields": ["account_id", "connection_id"]},
            {"fields": ["name"]},
            {"fields": ["lagging_at"]},
            {"fields": ["expiring_at"]},
            {"fields": ["failing"]},
        ],
    }


class HealthTenant(Document):  # type: ignore[misc]
    """Per tenant: the next ``seq`` to give a new account's record, and how many records it
    has. The overview turns a page number into a range of ``page_key`` from these few
    documents (one per tenant) instead of skipping over every account before the page."""

    tenant_id = StringField(required=True)
    next_seq = IntField(default=0)
    accounts = IntField(default=0)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "health_tenants",
        "indexes": [{"fields": ["tenant_id"], "unique": True}],
    }
