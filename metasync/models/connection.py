"""``MetaConnection``: one tenant's link to Meta through one user's (or system user's) token."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from bson import ObjectId
from mongoengine import BooleanField, DateTimeField, Document, IntField, ListField, StringField

from metasync.crypto import CryptoError, TokenCipher
from metasync.models.base import BASE_META, utcnow

__all__ = [
    "ConnectionStatus",
    "MetaConnection",
    "find_connection",
    "token_binding",
]


class ConnectionStatus:
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"  # token invalid or expired: syncs stop until a new token is added
    REVOKED = "REVOKED"  # the user removed the app or the tenant disconnected
    ERROR = "ERROR"  # a persistent non-token problem (e.g. missing permission)
    PAUSED = "PAUSED"  # an operator paused it: not synced until resumed
    ALL = (ACTIVE, EXPIRED, REVOKED, ERROR, PAUSED)
    BROKEN = (EXPIRED, REVOKED, ERROR)


def token_binding(record_id: object) -> str:
    """The associated data a connection's token envelope is sealed with: its record's id, so an
    envelope copied onto another connection does not decrypt."""
    return str(record_id)


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
    # Meta's X-Ad-Api-Version-Warning on this connection's calls (its text, when last seen, and
    # the version Meta served them with): the configured version expired and Meta upgraded the
    # calls silently (metasync.graph.version_warning).
    api_version_warning = StringField()
    api_version_warning_at = DateTimeField()
    api_version_served = StringField()
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
        self.token_envelope = cipher.encrypt(token, token_binding(record_id))
        self.token_key_id = cipher.current_key_id

    def access_token(self, cipher: TokenCipher) -> str:
        """Decrypt the stored token. Raises :class:`metasync.crypto.CryptoError` subclasses."""
        record_id: Any = cast(Any, self).pk
        if not self.token_envelope or record_id is None:
            raise CryptoError(f"connection {record_id} has no stored token")
        return cipher.decrypt(self.token_envelope, token_binding(record_id))

    def __str__(self) -> str:
        return f"MetaConnection({self.pk}, tenant={self.tenant_id}, status={self.status})"


def find_connection(connection_id: str, tenant_id: str | None = None) -> MetaConnection | None:
    """The connection of that id (of ``tenant_id`` when given), or None: an id that is not an
    ObjectId at all is simply not found (never an error)."""
    if not ObjectId.is_valid(connection_id):
        return None
    scope = {"tenant_id": tenant_id} if tenant_id is not None else {}
    return cast(MetaConnection | None, MetaConnection.objects(pk=connection_id, **scope).first())
