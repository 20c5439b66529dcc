"""Who may use the console and ``/metrics``: ``CONSOLE_USERS``, argon2id password hashes.

``CONSOLE_USERS`` is ``name:hash`` pairs separated by ``;`` (``metasync console hash-password``
prints a hash). A login sets a signed, HTTP-only cookie (``itsdangerous``, keyed by a digest of
``ENCRYPTION_KEY``, so no further secret is configured) that lasts :data:`SESSION_SECONDS`.
``/metrics`` takes the same users with HTTP Basic, as Prometheus' ``basic_auth`` sends them.
An unknown user costs one hash verification like a known one, so timing tells nothing.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from metasync.config import Settings

__all__ = [
    "COOKIE",
    "SESSION_SECONDS",
    "ConsoleUsers",
    "hash_password",
]

COOKIE = "metasync_console"
SESSION_SECONDS = 12 * 3600
HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for an unknown user (made once, when first needed)."""
    return HASHER.hash("metasync: an unknown user costs the same as a known one")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for ``CONSOLE_USERS``."""
    if len(password) < 8:
        raise ValueError("a console password needs at least 8 characters")
    return HASHER.hash(password)


class ConsoleUsers:
    """The configured users, their sessions and their Basic credentials."""

    def __init__(self, settings: Settings) -> None:
        raw = settings.CONSOLE_USERS.get_secret_value() if settings.CONSOLE_USERS else ""
        self.hashes: dict[str, str] = {}
        for entry in filter(None, (e.strip() for e in raw.split(";"))):
            name, _, hashed = entry.partition(":")
            self.hashes[name.strip()] = hashed.strip()
        secret = hashlib.sha256(
            b"metasync console sessions\0" + settings.ENCRYPTION_KEY.get_secret_value().encode()
        ).hexdigest()
        self.sessions = URLSafeTimedSerializer(secret, salt="console")

    def check(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s."""
        hashed = self.hashes.get(name) or _dummy_hash()
        try:
            HASHER.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False
        return name in self.hashes

    def session_for(self, name: str) -> str:
        return self.sessions.dumps(name)

    def user_of(self, cookie: str | None) -> str | None:
        """The user of a session cookie still valid, else None."""
        if not cookie:
            return None
        try:
            name = self.sessions.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        return name if isinstance(name, str) and name in self.hashes else None

    def basic_user(self, authorization: str | None) -> str | None:
        """The user of an ``Authorization: Basic ...`` header whose password checks."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        name, _, password = decoded.partition(":")
        return name if self.check(name, password) else None
