"""Who may use the console: ``CONSOLE_USERS``, argon2id password hashes, checked a few at a time.

``CONSOLE_USERS`` is ``name:hash`` pairs separated by ``;`` (``metasync console hash-password``
prints a hash). Each check costs an argon2id verification (64 MiB, tens of milliseconds), so a
process runs at most ``PASSWORD_CHECKS_AT_ONCE`` of them; a check that cannot start within
:data:`CHECK_QUEUE_SECONDS` raises :class:`ChecksBusy` (answered 503) instead of piling up
memory. An unknown user costs one verification like a known one, so timing tells nothing.
A user's *fingerprint* (a digest of their hash) changes with their password: sessions carry it,
so a password change ends every session opened with the old one.
"""

from __future__ import annotations

import functools
import hashlib
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from metasync.config import Settings

__all__ = ["CHECK_QUEUE_SECONDS", "ChecksBusy", "ConsoleUsers", "hash_password"]

HASHER = PasswordHasher()
CHECK_QUEUE_SECONDS = 5.0


class ChecksBusy(RuntimeError):
    """Every password-check slot stayed taken for :data:`CHECK_QUEUE_SECONDS`."""


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
    """The configured users and their password checks (bounded per process)."""

    def __init__(self, settings: Settings) -> None:
        raw = settings.CONSOLE_USERS.get_secret_value() if settings.CONSOLE_USERS else ""
        self.hashes: dict[str, str] = {}
        for entry in filter(None, (e.strip() for e in raw.split(";"))):
            name, _, hashed = entry.partition(":")
            self.hashes[name.strip()] = hashed.strip()
        self.slots = threading.BoundedSemaphore(settings.PASSWORD_CHECKS_AT_ONCE)

    def check(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s; :class:`ChecksBusy` when no slot frees up."""
        hashed = self.hashes.get(name) or _dummy_hash()
        if not self.slots.acquire(timeout=CHECK_QUEUE_SECONDS):
            raise ChecksBusy("too many password checks at once; try again in a few seconds")
        try:
            HASHER.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False
        finally:
            self.slots.release()
        return name in self.hashes

    def fingerprint(self, name: str) -> str | None:
        """A digest of ``name``'s current hash (None for an unknown user)."""
        hashed = self.hashes.get(name)
        return None if hashed is None else hashlib.sha256(hashed.encode()).hexdigest()[:32]
