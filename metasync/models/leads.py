"""Lead Ads in the mirror: the pages that own lead forms, the forms and their questions, and
the leads with their answers sealed.

Contract for readers
====================

This is what the warehouse export and the REST API rely on. Field names do not change.

**Collections and fields.**

``lead_pages`` (:class:`LeadPage`), one per (tenant, connection, page): ``tenant_id``,
``connection_id``, ``page_id``, ``name``, ``token_envelope`` (the page access token, sealed,
bound to the record's ``_id``), ``access`` (:class:`LeadAccessState`: ``granted``,
``not_granted``, ``not_managed``), ``access_reason`` (Meta's message, no personal data),
``checked_at``, ``forms_synced_at``.

``lead_forms`` (:class:`LeadForm`), one per (tenant, form): ``tenant_id``, ``connection_id``,
``page_id``, ``form_id``, ``name``, ``status`` (Meta's ``ACTIVE``, ``ARCHIVED``...), ``locale``,
``questions`` (a list of ``{"key", "label", "type", "options": [{"key", "value"}]}``, Meta's
order), ``created_time`` (UTC), ``leads_cursor`` (the largest ``created_time`` of the form's
leads read by the sync, UTC), ``synced_at``.

``leads`` (:class:`Lead`), one per (tenant, lead): ``tenant_id``, ``connection_id``,
``page_id``, ``form_id``, ``lead_id`` (Meta's id), ``ad_id``, ``adset_id``, ``campaign_id``,
``ad_account_id`` (numeric, without ``act_``; ``""`` for organic leads and when Meta did not
say), ``created_time`` (UTC), ``is_organic``, ``platform`` (``fb``, ``ig``... as Meta sends it,
``""`` when absent), ``answers_envelope`` (see below), ``answers_key_id``, ``person_hashes``,
``received_via`` (``sync`` or ``webhook``), ``synced_at``, ``account_id`` and ``seq`` (the
write number, below).

**Answers.** ``answers_envelope`` is ONE :mod:`metasync.crypto` envelope of Meta's
``field_data`` list as JSON (``[{"name": ..., "values": [...]}, ...]``), sealed with the
lead's ``lead_id`` as associated data. Read it only through :func:`lead_answers` (or
:func:`metasync.leads.answers.lead_answers`, the same function). Nothing else of the answers
is stored in clear text. ``person_hashes`` are keyed hashes (HMAC-SHA-256 under a key derived
from ``ENCRYPTION_KEY``) of the normalized e-mail and phone answers: they find a person's
leads for an erasure and reveal nothing without the key. Never export them.

**Finding new leads: write numbers per page.** Leads are numbered like daily rows
(:mod:`metasync.models.numbering`), in a numbering of their own per (tenant, *page*): the
numbering's ``account_id`` is :func:`lead_stream` ``(page_id)`` = ``"page:<page_id>"``, and
every lead carries that same string in its ``account_id`` field (the ad account is in
``ad_account_id``). Per page rather than per ad account because organic leads and leads whose
ad Meta did not name have no ad account, and a page's leads are written together by one
form's sync or one webhook. The export lists a tenant's streams with
:func:`lead_streams` (the distinct ``account_id`` of its leads and lead erasures), and reads
each like an account: ``mark < seq < watermark(tenant, stream)`` in ``(seq, _id)`` order, on
the ``(tenant_id, account_id, seq)`` index. A lead written again (the webhook and the sync
both read it) takes a new number and is exported again; rows are merged by ``lead_id``.

**Erasures.** A removed lead (``metasync leads erase``, or past ``LEAD_RETENTION_DAYS``) is
recorded in ``export_deletions`` (:class:`metasync.models.deletions.ExportDeletion`) with
``source="leads"``, ``account_id`` = the lead's stream (``"page:<page_id>"``), ``key =
{"lead_id": ...}`` and a write number of that stream, taken in the same
:func:`~metasync.models.numbering.under_number` as the removal. Unlike other deletions, a lead
erasure is unconditional: every destination deletes the lead (and its answers) whatever the
mirror holds, since a lead erased on request must not come back from a warehouse. The
removal itself is :func:`metasync.leads.privacy.erase_leads`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, cast

from bson import ObjectId
from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    ListField,
    LongField,
    StringField,
)

from metasync.crypto import CryptoError, TokenCipher
from metasync.models.base import BASE_META, utcnow

__all__ = [
    "ANSWERS_SOURCE",
    "Lead",
    "LeadAccessState",
    "LeadForm",
    "LeadPage",
    "lead_answers",
    "lead_stream",
    "lead_streams",
    "normalize_email",
    "normalize_phone",
    "person_hashes_of",
    "seal_answers",
]

#: ``ExportDeletion.source`` of an erased lead.
ANSWERS_SOURCE = "leads"
STREAM_PREFIX = "page:"


def lead_stream(page_id: str) -> str:
    """The write-numbering key of a page's leads (``"page:<page_id>"``)."""
    return f"{STREAM_PREFIX}{page_id}"


class LeadAccessState:
    """Whether metasync can read a page's leads."""

    GRANTED = "granted"
    NOT_GRANTED = "not_granted"  # leads_retrieval (or pages_manage_ads) missing: Meta said so
    NOT_MANAGED = "not_managed"  # the connection's person no longer manages the page
    ALL = (GRANTED, NOT_GRANTED, NOT_MANAGED)


class LeadPage(Document):  # type: ignore[misc]
    """A Facebook Page a connection reads leads from, with its page access token (sealed)."""

    tenant_id = StringField(required=True)
    connection_id = StringField(required=True)
    page_id = StringField(required=True)
    name = StringField()
    token_envelope = StringField()
    token_key_id = StringField()
    access = StringField(choices=LeadAccessState.ALL, default=LeadAccessState.GRANTED)
    access_reason = StringField()
    access_since = DateTimeField(default=utcnow)
    checked_at = DateTimeField(default=utcnow)
    forms_synced_at = DateTimeField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "lead_pages",
        "indexes": [
            {"fields": ["tenant_id", "connection_id", "page_id"], "unique": True},
            {"fields": ["access", "tenant_id"]},
        ],
    }

    def set_page_token(self, cipher: TokenCipher, token: str) -> None:
        """Seal ``token`` onto this record (giving it an id first if it has none)."""
        record_id: Any = cast(Any, self).pk
        if record_id is None:
            record_id = ObjectId()
            cast(Any, self).pk = record_id
        self.token_envelope = cipher.encrypt(token, str(record_id))
        self.token_key_id = cipher.current_key_id

    def page_token(self, cipher: TokenCipher) -> str:
        """The page access token. Raises :class:`metasync.crypto.CryptoError` subclasses."""
        record_id: Any = cast(Any, self).pk
        if not self.token_envelope or record_id is None:
            raise CryptoError(f"lead page {record_id} has no stored page token")
        return cipher.decrypt(self.token_envelope, str(record_id))


class LeadForm(Document):  # type: ignore[misc]
    """A page's lead form and its questions (no personal data)."""

    tenant_id = StringField(required=True)
    connection_id = StringField(required=True)
    page_id = StringField(required=True)
    form_id = StringField(required=True)
    name = StringField()
    status = StringField()
    locale = StringField()
    questions = ListField(DictField())  # {"key", "label", "type", "options": [{"key", "value"}]}
    created_time = DateTimeField()
    leads_cursor = DateTimeField()  # the latest created_time of its leads the sync read (UTC)
    synced_at = DateTimeField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "lead_forms",
        "indexes": [
            {"fields": ["tenant_id", "form_id"], "unique": True},
            {"fields": ["tenant_id", "connection_id", "page_id"]},
        ],
    }


class Lead(Document):  # type: ignore[misc]
    """One lead: where it came from in clear text, its answers sealed (see the module)."""

    #: stamped with a write number of its page's stream (``seq``) that the export reads it by
    numbered: ClassVar[bool] = True

    tenant_id = StringField(required=True)
    connection_id = StringField(required=True)
    page_id = StringField(required=True)
    form_id = StringField(required=True)
    lead_id = StringField(required=True)
    ad_id = StringField(default="")
    adset_id = StringField(default="")
    campaign_id = StringField(default="")
    ad_account_id = StringField(default="")  # numeric, without "act_"; "" when unknown
    created_time = DateTimeField(required=True)  # UTC
    is_organic = BooleanField(default=False)
    platform = StringField(default="")
    answers_envelope = StringField()
    answers_key_id = StringField()
    person_hashes = ListField(StringField())
    received_via = StringField(choices=("sync", "webhook"), default="sync")
    synced_at = DateTimeField(default=utcnow)
    account_id = StringField(required=True)  # the write-numbering stream: lead_stream(page_id)
    seq = LongField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "leads",
        "indexes": [
            {"fields": ["tenant_id", "lead_id"], "unique": True},
            {"fields": ["tenant_id", "account_id", "seq"]},
            {"fields": ["tenant_id", "ad_id"]},
            {"fields": ["tenant_id", "form_id", "created_time"]},
            {"fields": ["person_hashes"]},
            {"fields": ["created_time"]},  # retention
        ],
    }

    def set_answers(self, cipher: TokenCipher, field_data: Sequence[Mapping[str, Any]]) -> None:
        """Seal Meta's ``field_data`` list (as JSON) onto this lead, bound to its ``lead_id``."""
        plain = json.dumps([dict(item) for item in field_data], separators=(",", ":"))
        self.answers_envelope = cipher.encrypt(plain, str(self.lead_id))
        self.answers_key_id = cipher.current_key_id

    def answers(self, cipher: TokenCipher) -> list[dict[str, Any]]:
        """The opened ``field_data`` (``[]`` when none was stored)."""
        if not self.answers_envelope:
            return []
        opened = json.loads(cipher.decrypt(self.answers_envelope, str(self.lead_id)))
        return [dict(item) for item in opened]


def seal_answers(cipher: TokenCipher, lead_id: str, field_data: Sequence[Mapping[str, Any]]) -> str:
    """Meta's ``field_data`` list as one envelope bound to ``lead_id``."""
    holder = Lead(lead_id=lead_id)
    holder.set_answers(cipher, field_data)
    return str(holder.answers_envelope)


def lead_answers(lead: Lead | Mapping[str, Any], cipher: TokenCipher) -> list[dict[str, Any]]:
    """The lead's ``field_data`` (``[{"name": ..., "values": [...]}]``), opened; ``[]`` when it
    has none. ``lead`` is a :class:`Lead` or its stored document. Raises
    :class:`metasync.crypto.CryptoError` subclasses (naming the lead id, never an answer)."""
    if not isinstance(lead, Lead):
        lead = Lead(
            lead_id=str(lead.get("lead_id", "")), answers_envelope=lead.get("answers_envelope")
        )
    return lead.answers(cipher)


def normalize_email(email: str) -> str:
    """An e-mail address as compared for erasure: trimmed and lower-cased."""
    return email.strip().lower()


def normalize_phone(phone: str) -> str:
    """A phone number as compared for erasure: its digits only (a leading ``+`` and
    separators dropped), so ``+1 (555) 010-2233`` and ``15550102233`` are the same."""
    return re.sub(r"\D", "", phone)


EMAIL_FIELDS = ("email", "work_email")
PHONE_FIELDS = ("phone_number", "phone", "work_phone_number")


def person_hashes_of(
    cipher: TokenCipher, field_data: Iterable[Mapping[str, Any]], *, every_key: bool = False
) -> list[str]:
    """The keyed hashes of the person's e-mail and phone answers (``e:``/``p:`` prefixed), with
    the current key, or with ``every_key`` configured (to find leads hashed before a rotation)."""
    hashes: list[str] = []
    for item in field_data:
        name = str(item.get("name", ""))
        for value in item.get("values") or []:
            text = str(value)
            if name in EMAIL_FIELDS and normalize_email(text):
                hashes += _hashed(cipher, "e:" + normalize_email(text), every_key)
            elif name in PHONE_FIELDS and normalize_phone(text):
                hashes += _hashed(cipher, "p:" + normalize_phone(text), every_key)
    return sorted(set(hashes))


def _hashed(cipher: TokenCipher, text: str, every_key: bool) -> list[str]:
    return cipher.fingerprints(text) if every_key else [cipher.fingerprint(text)]


def lead_streams(tenant_id: str) -> list[str]:
    """Every lead numbering stream of the tenant: those of its leads and of its lead
    erasures (a page whose leads were all erased still has erasures to carry)."""
    from metasync.models.deletions import ExportDeletion

    streams = set(Lead._get_collection().distinct("account_id", {"tenant_id": tenant_id}))
    streams |= set(
        ExportDeletion._get_collection().distinct(
            "account_id", {"tenant_id": tenant_id, "source": ANSWERS_SOURCE}
        )
    )
    return sorted(str(s) for s in streams if s)
