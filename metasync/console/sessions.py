"""Console sessions kept in Redis: the cookie is a random id, the server holds what it means.

A session is a Redis hash under the SHA-256 of its id (a copy of Redis holds no usable cookie)
with the user, a CSRF token for its forms and the user's password fingerprint. It ends:

- at logout (the hash is deleted, so a cookie copied earlier stops working at once);
- at a password change (the fingerprint no longer matches the configured hash);
- after ``CONSOLE_SESSION_HOURS`` in any case (the hash's expiry; activity does not extend it).

Cost: one ``HGETALL`` per page.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import redis

from metasync.console.auth import ConsoleUsers
from metasync.keys import RedisKeys

__all__ = ["COOKIE", "Session", "Sessions"]

COOKIE = "metasync_console"


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """Open, find and close console sessions."""

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, users: ConsoleUsers, max_age_seconds: int
    ) -> None:
        self.client, self.keys, self.users = client, keys, users
        self.max_age_seconds = max_age_seconds

    def open(self, user: str) -> str:
        """A new session of ``user``; returns the cookie value (shown to nobody else)."""
        session_id = secrets.token_urlsafe(32)
        name = self.keys.console_session(_digest(session_id))
        fields: dict[Any, Any] = {
            "user": user,
            "csrf": secrets.token_urlsafe(24),
            "fingerprint": self.users.fingerprint(user) or "",
        }
        with self.client.pipeline() as pipe:
            pipe.hset(name, mapping=fields)
            pipe.expire(name, self.max_age_seconds)
            pipe.execute()
        return session_id

    def find(self, cookie: str | None) -> Session | None:
        """The live session a cookie names, or None (unknown, expired, logged out, or opened
        before its user's password changed)."""
        if not cookie or len(cookie) > 100:
            return None
        stored: dict[bytes, bytes] = self.client.hgetall(  # type: ignore[assignment]
            self.keys.console_session(_digest(cookie))
        )
        found = {k.decode(): v.decode() for k, v in stored.items()}
        user = found.get("user")
        if not user or found.get("fingerprint") != self.users.fingerprint(user):
            return None
        return Session(user=user, csrf=found.get("csrf", ""))

    def close(self, cookie: str | None) -> None:
        if cookie and len(cookie) <= 100:
            self.client.delete(self.keys.console_session(_digest(cookie)))
