"""Every kind of record metasync encrypts under ``ENCRYPTION_KEY``, in one list, and the
rotation that re-encrypts them all with the current key.

A new encrypted field is added to :data:`ENCRYPTED_KINDS`, or key rotation leaves it under the
old key and it becomes unreadable once that key is dropped. ``tests/unit/test_encrypted_kinds.py``
fails while a document has an ``*_envelope`` field, or a module outside :mod:`metasync.crypto`
calls ``encrypt``/``decrypt``, that no kind here accounts for.

Rotation (:func:`rotate_all`) is idempotent and resumable: each record is re-encrypted on its
own, with a compare-and-set on the envelope it read, and a record already under the current key
is counted and left alone, so a rotation killed at any line is finished by running it again. It
assumes every process that writes these records already runs with the new ``ENCRYPTION_KEY``
(restart them before rotating): a process still on the old key seals new records under it after
the rotation has passed them. A record no configured key opens is named in the report, never
skipped in silence, and the others are rotated all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mongoengine import Document

from metasync.crypto import CryptoError, TokenCipher
from metasync.models.base import utcnow
from metasync.models.connection import MetaConnection, token_binding
from metasync.models.exports import ExportTarget, destination_binding
from metasync.models.leads import Lead, LeadPage

__all__ = ["ENCRYPTED_KINDS", "EncryptedKind", "KindRotation", "rotate_all", "rotate_kind"]

# A record whose envelope keeps changing under the rotation (another process rewriting it) is
# read again this many times, then reported for a re-run rather than retried for ever.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class EncryptedKind:
    """One kind of encrypted record: ``field`` of ``document`` holds an envelope (see
    :mod:`metasync.crypto`) sealed with ``binding(stored document)`` as associated data;
    ``reads`` lists the other stored fields ``binding`` needs; ``key_id_field``, when set, is
    kept equal to the envelope's key id."""

    name: str
    document: type[Document]
    field: str
    binding: Callable[[Mapping[str, Any]], str]
    reads: tuple[str, ...] = ()
    key_id_field: str | None = None


ENCRYPTED_KINDS: tuple[EncryptedKind, ...] = (
    EncryptedKind(
        name="connection tokens",
        document=MetaConnection,
        field="token_envelope",
        binding=lambda stored: token_binding(stored["_id"]),
        key_id_field="token_key_id",
    ),
    EncryptedKind(
        name="export destinations",
        document=ExportTarget,
        field="url_envelope",
        binding=lambda stored: destination_binding(stored["tenant_id"]),
        reads=("tenant_id",),
    ),
    EncryptedKind(
        name="page tokens",
        document=LeadPage,
        field="token_envelope",
        binding=lambda stored: str(stored["_id"]),
        key_id_field="token_key_id",
    ),
    EncryptedKind(
        name="lead answers",
        document=Lead,
        field="answers_envelope",
        binding=lambda stored: str(stored["lead_id"]),
        reads=("lead_id",),
        key_id_field="answers_key_id",
    ),
)


@dataclass
class KindRotation:
    """What a rotation did to one kind: ``rotated`` records re-encrypted (or, in a dry run,
    that would be), ``current`` already under the current key, and ``unreadable`` (record id,
    why) for those no configured key opens (the reason names key ids, never a secret)."""

    kind: str
    rotated: int = 0
    current: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def rotate_all(cipher: TokenCipher, *, dry_run: bool = False) -> list[KindRotation]:
    """Re-encrypt every kind of :data:`ENCRYPTED_KINDS` with ``cipher``'s current key, in
    order. ``dry_run`` opens every stale envelope (so unreadable records are found) and writes
    nothing."""
    return [rotate_kind(cipher, kind, dry_run=dry_run) for kind in ENCRYPTED_KINDS]


def rotate_kind(cipher: TokenCipher, kind: EncryptedKind, *, dry_run: bool = False) -> KindRotation:
    """Re-encrypt one kind's records that are not under the current key (see the module)."""
    report = KindRotation(kind.name)
    stored_envelopes = kind.document._get_collection().find(
        {kind.field: {"$type": "string"}}, _projection(kind)
    )
    for stored in stored_envelopes:
        _rotate_record(cipher, kind, stored, report, dry_run=dry_run)
    return report


def _projection(kind: EncryptedKind) -> dict[str, int]:
    return {kind.field: 1, **{name: 1 for name in kind.reads}}


def _rotate_record(
    cipher: TokenCipher,
    kind: EncryptedKind,
    stored: Mapping[str, Any],
    report: KindRotation,
    *,
    dry_run: bool,
) -> None:
    collection = kind.document._get_collection()
    record_id = stored["_id"]
    for _ in range(MAX_ATTEMPTS):
        envelope = stored[kind.field]
        try:
            if not cipher.needs_rotation(envelope):
                report.current += 1
                return
            sealed = cipher.reencrypt(envelope, kind.binding(stored))
        except CryptoError as exc:
            report.unreadable.append((str(record_id), str(exc)))
            return
        if dry_run:
            report.rotated += 1
            return
        changes: dict[str, Any] = {kind.field: sealed}
        if kind.key_id_field:
            changes[kind.key_id_field] = cipher.current_key_id
        if "updated_at" in kind.document._fields:
            changes["updated_at"] = utcnow()
        swapped = collection.update_one(
            {"_id": record_id, kind.field: envelope}, {"$set": changes}
        ).modified_count
        if swapped:
            report.rotated += 1
            return
        # Rewritten since it was read (or gone): judge what is stored now.
        fresh = collection.find_one({"_id": record_id}, _projection(kind))
        if fresh is None or not isinstance(fresh.get(kind.field), str):
            return
        stored = fresh
    report.unreadable.append(
        (str(record_id), f"its envelope changed {MAX_ATTEMPTS} times during rotation: run again")
    )
