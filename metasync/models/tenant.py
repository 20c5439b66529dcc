"""``TenantSettings``: what a tenant chose for itself, beside the service-wide settings."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, Document, ListField, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["TenantSettings"]


class TenantSettings(Document):  # type: ignore[misc]
    """``conversion_action_types``: the action types this tenant counts as conversions (first
    found wins); empty means ``META_CONVERSION_ACTION_TYPES``. A custom conversion is counted
    as ``offsite_conversion.custom.<id>``. ``reporting_currency``: the currency this tenant's
    spend and revenue are also given in (API and export), at the day's reference rate; empty
    for none."""

    tenant_id = StringField(required=True)
    conversion_action_types = ListField(StringField())
    reporting_currency = StringField(regex=r"^[A-Z]{3}$")
    updated_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "tenant_settings",
        "indexes": [{"fields": ["tenant_id"], "unique": True}],
    }
