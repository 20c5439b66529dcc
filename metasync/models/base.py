"""Shared pieces of the mongoengine documents.

All datetimes are stored as UTC and read back timezone-aware (``db.connect`` sets ``tz_aware``).
Indexes are declared on each document and created once at start-up by
:func:`metasync.db.ensure_indexes` (``auto_create_index`` is off so that no query pays for it).
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from typing import Any, ClassVar

from mongoengine import DateTimeField, Decimal128Field, DictField, Document, ListField, StringField

__all__ = [
    "BASE_META",
    "MetaObject",
    "Money",
    "NaturalKeyed",
    "as_decimal",
    "aware",
    "utcnow",
]

BASE_META: dict[str, Any] = {"auto_create_index": False}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to milliseconds as BSON stores it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def aware(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC with its zone (MongoDB gives naive UTC datetimes back); None stays."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def as_decimal(value: Any) -> decimal.Decimal | None:
    """A stored amount (``Decimal128``, ``Decimal``, a number or its text) as a ``Decimal``;
    None stays None."""
    if value is None:
        return None
    return value.to_decimal() if hasattr(value, "to_decimal") else decimal.Decimal(str(value))


class Money(Decimal128Field):  # type: ignore[misc]
    """An exact decimal stored as ``Decimal128`` (money, rates). Rejects NaN, infinities and text
    that is not a number, which mongoengine's own field would quietly store as NaN."""

    def validate(self, value: object) -> None:
        try:
            number = as_decimal(value)
        except (decimal.InvalidOperation, ValueError):
            number = None
        if number is None:
            self.error(f"{value!r} is not a decimal number")
            return
        if not number.is_finite():
            self.error("must be a finite decimal number")
            return
        super().validate(value)


class NaturalKeyed:
    """A document whose rows are upserted by the fields named in ``natural_key``."""

    natural_key: ClassVar[tuple[str, ...]] = ()
    #: True when the document has ``last_seen_at`` / ``deleted_at`` tombstone fields.
    tracks_presence: ClassVar[bool] = False
    #: True when every write stamps the rows with a write number (``seq``, per ad account) that
    #: the warehouse export reads them by (:mod:`metasync.models.numbering`).
    numbered: ClassVar[bool] = False


class MetaObject(NaturalKeyed, Document):  # type: ignore[misc]
    """Fields common to every mirrored Meta object (accounts, campaigns, ad sets, ads, creatives).

    ``meta_id`` is Meta's id; rows are unique per (tenant, meta id) so two tenants that share an
    ad account each keep their own mirror. ``first_seen_at``/``last_seen_at`` record when a sync
    saw the object; ``deleted_at`` is the tombstone set when Meta stops returning it.
    """

    natural_key = ("tenant_id", "meta_id")
    tracks_presence = True

    tenant_id = StringField(required=True)
    meta_id = StringField(required=True)
    account_id = StringField(required=True)  # numeric ad account id, without "act_"
    name = StringField()
    status = StringField()
    effective_status = StringField()
    created_time = DateTimeField()
    updated_time = DateTimeField()
    issues_info = ListField(DictField())
    recommendations = ListField(DictField())  # Meta's delivery recommendations, as sent
    first_seen_at = DateTimeField()
    last_seen_at = DateTimeField()
    last_seen_run = StringField()  # the last full-or-incremental run whose listing returned it
    deleted_at = DateTimeField()
    synced_at = DateTimeField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "abstract": True,
        "indexes": [
            {"fields": ["tenant_id", "meta_id"], "unique": True},
            {"fields": ["tenant_id", "account_id", "deleted_at"]},
        ],
    }
