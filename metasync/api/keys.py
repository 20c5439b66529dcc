"""Tenants' API keys: created (shown once), listed, revoked, and checked on every request.

A key reads ``msk_<key id>_<secret>``: the key id (8 bytes, hex) finds the record, the secret
(32 bytes, url-safe) is compared by its SHA-256 digest in constant time. A revoked key, an
unknown key id and a wrong secret are all just "not a valid key", so a caller learns nothing
about which.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from metasync.models import SCOPES, ApiKey, utcnow

__all__ = [
    "PREFIX",
    "ApiKeyError",
    "Caller",
    "authenticate",
    "create_key",
    "digest",
    "list_keys",
    "revoke",
    "set_scopes",
]

PREFIX = "msk_"
TOUCH_EVERY = timedelta(minutes=5)  # last_used_at is written at most this often per key


class ApiKeyError(ValueError):
    """A key operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's tenant, its id (for the record of what it did) and what it
    may do."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str] = frozenset({"read"})

    @property
    def name(self) -> str:
        return f"api-key:{self.key_id}"


def digest(secret: str) -> str:
    """The SHA-256 of a secret of high entropy (a key, a scrape token), as stored and compared."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _checked_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted(set(scopes) | {"read"})
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise ApiKeyError(
            f"unknown scope {', '.join(unknown)}: a key's scopes are {', '.join(SCOPES)}"
        )
    return chosen


def create_key(
    tenant_id: str, name: str = "", by: str = "cli", scopes: Iterable[str] = ()
) -> tuple[ApiKey, str]:
    """A new key for ``tenant_id`` that may ``read`` and do ``scopes``; returns the record and
    the plain key (never stored)."""
    if not tenant_id.strip():
        raise ApiKeyError("an API key needs a tenant")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    record = ApiKey(
        tenant_id=tenant_id,
        key_id=key_id,
        secret_sha256=digest(secret),
        name=name,
        created_by=by,
        scopes=_checked_scopes(scopes),
    ).save()
    return record, f"{PREFIX}{key_id}_{secret}"


def list_keys(tenant_id: str) -> list[ApiKey]:
    return list(ApiKey.objects(tenant_id=tenant_id).order_by("created_at"))


def revoke(tenant_id: str, key_id: str) -> ApiKey:
    """Revoke one of ``tenant_id``'s keys (another tenant's key id is unknown here)."""
    found: ApiKey | None = ApiKey.objects(tenant_id=tenant_id, key_id=key_id).first()
    if found is None:
        raise ApiKeyError(f"tenant {tenant_id} has no API key {key_id}")
    if found.revoked_at is None:
        found.update(set__revoked_at=utcnow())
        found.reload()
    return found


def set_scopes(tenant_id: str, key_id: str, scopes: Iterable[str]) -> ApiKey:
    """Replace what one of ``tenant_id``'s keys may do (``read`` always stays)."""
    chosen = _checked_scopes(scopes)
    if not ApiKey.objects(tenant_id=tenant_id, key_id=key_id).update_one(set__scopes=chosen):
        raise ApiKeyError(f"tenant {tenant_id} has no API key {key_id}")
    found: ApiKey = ApiKey.objects.get(tenant_id=tenant_id, key_id=key_id)
    return found


def authenticate(presented: str | None, now: datetime | None = None) -> Caller | None:
    """The caller a presented key belongs to, or None when it is not a valid, live key."""
    if not presented or not presented.startswith(PREFIX):
        return None
    key_id, _, secret = presented[len(PREFIX) :].partition("_")
    if not key_id or not secret:
        return None
    found = ApiKey.objects(key_id=key_id).first()
    if found is None or found.revoked_at is not None:
        return None
    if not hmac.compare_digest(found.secret_sha256, digest(secret)):
        return None
    moment = now or utcnow()
    if found.last_used_at is None or moment - found.last_used_at > TOUCH_EVERY:
        ApiKey.objects(pk=found.pk).update_one(set__last_used_at=moment)
    return Caller(found.tenant_id, key_id, frozenset(found.scopes or ["read"]))
