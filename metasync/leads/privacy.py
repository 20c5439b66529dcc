"""Erasing leads: on request (one lead, or every lead of a person) and past
``LEAD_RETENTION_DAYS``.

Each erased lead is removed from ``leads`` and recorded in ``export_deletions``
(``source="leads"``, ``key={"lead_id": ...}``) under a write number of its page's stream,
in the same :func:`~metasync.models.numbering.under_number` as the removal, so every export
destination deletes it too (the contract in :mod:`metasync.models.leads`).

A person is found by the keyed hashes of their e-mail address or phone number, computed under
every configured key (:meth:`metasync.crypto.TokenCipher.fingerprints`), so leads stored before
a key rotation are found as well. Nothing of the person is logged or kept: the erasure's
result holds lead ids and counts only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from metasync.crypto import TokenCipher
from metasync.models import utcnow
from metasync.models.deletions import record_removed
from metasync.models.leads import (
    ANSWERS_SOURCE,
    Lead,
    normalize_email,
    normalize_phone,
)
from metasync.models.numbering import under_number

__all__ = ["Erasure", "erase_expired", "erase_leads", "person_hashes"]

log = logging.getLogger(__name__)

BATCH = 500  # leads removed per write number


@dataclass
class Erasure:
    """What an erasure removed: the lead ids (Meta's, not personal) per tenant."""

    lead_ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.lead_ids.values())


def person_hashes(
    cipher: TokenCipher, *, email: str | None = None, phone: str | None = None
) -> list[str]:
    """The keyed hashes a person's leads carry for ``email`` and/or ``phone``, under every
    configured key."""
    hashes: list[str] = []
    if email and normalize_email(email):
        hashes += cipher.fingerprints("e:" + normalize_email(email))
    if phone and normalize_phone(phone):
        hashes += cipher.fingerprints("p:" + normalize_phone(phone))
    return hashes


def _remove(found: Sequence[Mapping[str, Any]], erasure: Erasure) -> None:
    """Remove ``found`` leads (stored documents), grouped by (tenant, stream), and record
    each as an export deletion under the stream's write number."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for document in found:
        groups.setdefault((document["tenant_id"], document["account_id"]), []).append(document)
    collection = Lead._get_collection()
    for (tenant_id, stream), documents in sorted(groups.items()):
        for start in range(0, len(documents), BATCH):
            chunk = documents[start : start + BATCH]

            def write(
                seq: int,
                chunk: Sequence[Mapping[str, Any]] = chunk,
                tenant_id: str = tenant_id,
                stream: str = stream,
            ) -> int:
                ids = [d["_id"] for d in chunk]
                record_removed(tenant_id, stream, ANSWERS_SOURCE, chunk, seq)
                return int(collection.delete_many({"_id": {"$in": ids}}).deleted_count)

            under_number(tenant_id, stream, write)
            erasure.lead_ids.setdefault(tenant_id, []).extend(str(d["lead_id"]) for d in chunk)


def erase_leads(
    *,
    tenant_id: str | None = None,
    lead_ids: Sequence[str] = (),
    hashes: Sequence[str] = (),
) -> Erasure:
    """Erase the leads named by id, or carrying any of ``hashes`` (a person's), of one tenant
    or (``tenant_id`` None) of every tenant. Returns what was erased (ids only)."""
    if not lead_ids and not hashes:
        raise ValueError("an erasure names lead ids or a person's hashes")
    where: dict[str, Any] = {}
    if tenant_id is not None:
        where["tenant_id"] = tenant_id
    chosen: list[dict[str, Any]] = []
    if lead_ids:
        chosen.append({"lead_id": {"$in": [str(i) for i in lead_ids]}})
    if hashes:
        chosen.append({"person_hashes": {"$in": list(hashes)}})
    where["$or"] = chosen
    found = list(
        Lead._get_collection().find(where, {"tenant_id": 1, "account_id": 1, "lead_id": 1})
    )
    erasure = Erasure()
    _remove(found, erasure)
    log.info("erased %d lead(s) on request", erasure.count)
    return erasure


def erase_expired(days: int, now: datetime | None = None) -> Erasure:
    """Erase every lead whose ``created_time`` is more than ``days`` days before ``now``."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    found = list(
        Lead._get_collection().find(
            {"created_time": {"$lt": cutoff}}, {"tenant_id": 1, "account_id": 1, "lead_id": 1}
        )
    )
    erasure = Erasure()
    _remove(found, erasure)
    if erasure.count:
        log.info("erased %d lead(s) past LEAD_RETENTION_DAYS (%d)", erasure.count, days)
    return erasure
