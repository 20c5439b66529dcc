"""``TenantSettings``: what a tenant chose for itself, beside the service-wide settings; and
``CurrencyRebuild``: how far its stored days have been sent again in its reporting currency."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, Document, IntField, ListField, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["REBUILT", "CurrencyRebuild", "TenantSettings", "request_rebuild"]

REBUILT = "9999-12-31"  # CurrencyRebuild.next_day when no day waits (sorts after every day)
EVERY_DAY = "0000-00-00"  # sorts before every day


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


class CurrencyRebuild(Document):  # type: ignore[misc]
    """The tenant's stored days still to be exported again with its reporting currency and the
    rates as they are now (:mod:`metasync.export.rebuild`).

    ``next_day``: the first day (``YYYY-MM-DD``) not yet sent again; every stored day from it on
    waits (a change of currency or of rates affects every day from some day on, so one day
    describes what waits). :data:`REBUILT` when nothing does. ``generation`` grows with each
    request, so a rebuild that was overtaken by a new request starts that one over instead of
    passing days it did not cover. ``currency`` and ``rates_loaded_at`` are what the days up to
    ``next_day`` were sent again for; ``reason`` why the last request was made."""

    tenant_id = StringField(required=True)
    next_day = StringField(required=True)
    generation = IntField(default=0)
    currency = StringField()
    rates_loaded_at = DateTimeField()
    reason = StringField()
    requested_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField()
    days_done = IntField(default=0)  # of the current pass
    days_total = IntField(default=0)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "currency_rebuilds",
        "indexes": [{"fields": ["tenant_id"], "unique": True}],
    }


def request_rebuild(tenant_id: str, since: str | None, reason: str) -> None:
    """Every stored day of the tenant from ``since`` (None: every day) waits to be exported
    again. One atomic update; merges with what already waits (``next_day`` only moves back)."""
    CurrencyRebuild._get_collection().update_one(
        {"tenant_id": tenant_id},
        {
            "$min": {"next_day": since or EVERY_DAY},
            "$inc": {"generation": 1},
            "$set": {"reason": reason, "requested_at": utcnow()},
            "$unset": {"finished_at": ""},
        },
        upsert=True,
    )
