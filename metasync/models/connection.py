"""``MetaConnection``: one tenant's link to Meta through one user's (or system user's) token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from bson import ObjectId
from mongoengine import BooleanField, DateTimeField, Document, IntField, ListField, StringField

from metasync.crypto import CryptoError, TokenCipher
from metasync.models.base import BASE_META, utcnow

__all__ = [
    "ConnectionStatus",
    "MetaConnection",
    "RotationReport",
    "find_connection",
    "rotate_connection_tokens",
]


class ConnectionStatus:
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"  # token invalid or expired: syncs stop until a new token is added
    REVOKED = "REVOKED"  # the user removed the app or the tenant disconnected
    ERROR = "ERROR"  # a persistent non-token problem (e.g. missing permission)
    PAUSED = "PAUSED"  # an operator paused it: not synced until resumed
    ALL = (ACTIVE, EXPIRED, REVOKED, ERROR, PAUSED)
    BROKEN = (EXPIRED, REVOKED, ERROR)


class MetaConnection(Document):  # type: ignore[misc]
    """A tenant's Meta connection. The access token is only ever stored encrypted.

    ``token_envelope`` is an AES-256-GCM envelope (see :mod:`metasync.crypto`) bound to this
    record's id; use :meth:`set_access_token` and :meth:`access_token`, never the field itself.
    """

    tenant_id = StringField(required=True)
    meta_user_id = StringField(required=True)
    name = StringField()
    token_envelope = StringField()
    token_key_id = StringField()
    token_type = StringField(choices=("USER", "SYSTEM_USER", "PAGE", "APP"), default="USER")
    token_expires_at = DateTimeField()  # None: never expires (system users)
    token_scopes = ListField(StringField())
    data_access_expires_at = DateTimeField()  # after it, even a valid token reads nothing
    token_checked_at = DateTimeField()  # last daily check (debug_token)
    token_warning = StringField()  # what ends this connection within 7 days, in plain words
    status = StringField(choices=ConnectionStatus.ALL, default=ConnectionStatus.ACTIVE)
    status_reason = StringField()
    status_code = IntField()
    status_subcode = IntField()
    ad_account_ids = ListField(StringField())  # numeric ids, without "act_"; the active ones
    # True when added without an explicit list: /me/adaccounts is read again every
    # META_ACCOUNT_DISCOVERY_HOURS, new accounts join and lost ones stop being synced
    discover_accounts = BooleanField(default=False)
    accounts_discovered_at = DateTimeField()
    last_entity_sync_at = DateTimeField()
    last_full_sync_at = DateTimeField()
    last_performance_sync_at = DateTimeField()
    last_lookback_at = DateTimeField()  # last performance run that re-read the lookback window
    last_error = StringField()
    last_error_at = DateTimeField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "meta_connections",
        "indexes": [
            {"fields": ["tenant_id", "meta_user_id"], "unique": True},
            {"fields": ["status"]},
        ],
    }

    def set_access_token(self, cipher: TokenCipher, token: str) -> None:
        """Encrypt ``token`` onto this record (assigning its id first if it has none)."""
        record_id: Any = cast(Any, self).pk
        if record_id is None:
            record_id = ObjectId()
            cast(Any, self).pk = record_id
        self.token_envelope = cipher.encrypt(token, str(record_id))
        self.token_key_id = cipher.current_key_id

    def access_token(self, cipher: TokenCipher) -> str:
        """Decrypt the stored token. Raises :class:`metasync.crypto.CryptoError` subclasses."""
        record_id: Any = cast(Any, self).pk
        if not self.token_envelope or record_id is None:
            raise CryptoError(f"connection {record_id} has no stored token")
        return cipher.decrypt(self.token_envelope, str(record_id))

    def __str__(self) -> str:
        return f"MetaConnection({self.pk}, tenant={self.tenant_id}, status={self.status})"


def find_connection(connection_id: str, tenant_id: str | None = None) -> MetaConnection | None:
    """The connection of that id (of ``tenant_id`` when given), or None: an id that is not an
    ObjectId at all is simply not found (never an error)."""
    if not ObjectId.is_valid(connection_id):
        return None
    scope = {"tenant_id": tenant_id} if tenant_id is not None else {}
    return cast(MetaConnection | None, MetaConnection.objects(pk=connection_id, **scope).first())


@dataclass
class RotationReport:
    """What :func:`rotate_connection_tokens` did. ``failed`` holds (record id, error text)."""

    rotated: int = 0
    current: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def rotate_connection_tokens(cipher: TokenCipher) -> RotationReport:
    """Re-encrypt every stored token that is not sealed with the current key.

    Each record is swapped with a compare-and-set on its old envelope, so a token refreshed
    concurrently is never overwritten by a stale one (that record is counted as current: its new
    envelope already uses the current key). Records that fail to decrypt are reported, not
    raised, so one bad record never stops the rotation of the others.
    """
    report = RotationReport()
    collection = MetaConnection._get_collection()
    for raw in collection.find({"token_envelope": {"$type": "string"}}, {"token_envelope": 1}):
        record_id, envelope = str(raw["_id"]), raw["token_envelope"]
        try:
            if not cipher.needs_rotation(envelope):
                report.current += 1
                continue
            sealed = cipher.reencrypt(envelope, record_id)
        except CryptoError as exc:
            report.failed.append((record_id, str(exc)))
            continue
        result = collection.update_one(
            {"_id": raw["_id"], "token_envelope": envelope},
            {
                "$set": {
                    "token_envelope": sealed,
                    "token_key_id": cipher.current_key_id,
                    "updated_at": utcnow(),
                }
            },
        )
        if result.modified_count:
            report.rotated += 1
        else:
            report.current += 1
    return report
