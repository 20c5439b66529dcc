"""The warehouse export's records: where each tenant exports, what each export did, and the
daily reference rates used for a tenant's reporting currency."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    IntField,
    ListField,
    StringField,
)

from metasync.crypto import TokenCipher
from metasync.models.base import BASE_META, Money, NaturalKeyed, utcnow

__all__ = ["ExportRun", "ExportTarget", "FxRate", "destination_binding"]


def destination_binding(tenant_id: str) -> str:
    """The associated data a tenant's destination envelope is sealed with: an envelope copied
    onto another tenant's target does not decrypt."""
    return f"export:{tenant_id}"


class ExportTarget(Document):  # type: ignore[misc]
    """A tenant's warehouse. ``url_envelope`` is the destination URL encrypted like a token
    (it may hold a password); ``label`` is the same URL with any password removed, for people.
    ``enabled``: an export runs after each of the tenant's syncs."""

    tenant_id = StringField(required=True)
    label = StringField(required=True)
    url_envelope = StringField(required=True)
    enabled = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "export_targets",
        "indexes": [{"fields": ["tenant_id"], "unique": True}],
    }

    def set_url(self, cipher: TokenCipher, url: str) -> None:
        """Encrypt ``url`` onto this target with the current key (``tenant_id`` set first)."""
        self.url_envelope = cipher.encrypt(url, destination_binding(self.tenant_id))

    def url(self, cipher: TokenCipher) -> str:
        """Decrypt the destination URL. Raises :class:`metasync.crypto.CryptoError` subclasses."""
        return cipher.decrypt(self.url_envelope, destination_binding(self.tenant_id))


class ExportRun(Document):  # type: ignore[misc]
    """One export of one tenant: ``status`` ``running``, ``succeeded`` or ``failed`` (with
    ``error`` naming the table and the cause); ``rows`` counts rows changed per table.
    ``rejected``: rows the destination cannot hold (an id beyond 64 bits or not a number),
    set aside and named (table, key, column, reason; the first 100), ``rejected_count`` of
    them: a run with rows set aside and no other problem has ``succeeded``."""

    tenant_id = StringField(required=True)
    destination = StringField(required=True)  # the label: never a password
    status = StringField(required=True, choices=("running", "succeeded", "failed"))
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField()
    rows = DictField()
    read = DictField()  # documents read per source
    cleaned = DictField()  # characters the destination refuses, removed from text, per table
    # days whose amounts have no reporting-currency value, and why: {currency, missing, days,
    # first, last, reason} (metasync.export.currency.gaps)
    unconverted = ListField(DictField())
    rejected = ListField(StringField())
    rejected_count = IntField(default=0)
    error = StringField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "export_runs",
        "indexes": [{"fields": ["tenant_id", "started_at"]}],
    }


class FxRate(NaturalKeyed, Document):  # type: ignore[misc]
    """A daily reference rate: how many units of ``currency`` one euro bought on ``date``
    (the European Central Bank's convention; the euro itself is 1)."""

    natural_key = ("date", "currency")

    date = StringField(required=True, regex=r"^\d{4}-\d{2}-\d{2}$")
    currency = StringField(required=True, regex=r"^[A-Z]{3}$")
    per_euro = Money(required=True)
    loaded_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "fx_rates",
        "indexes": [{"fields": list(natural_key), "unique": True, "name": "natural_key"}],
    }
