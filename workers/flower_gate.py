"""Who may reach Flower, decided before Flower sees a request.

``FLOWER_BASIC_AUTH`` holds one or more ``user:password`` pairs separated by commas (operators,
and Prometheus for Flower's ``/metrics``). :func:`parse_credentials` refuses a missing value, a
password shorter than :data:`MIN_PASSWORD_LENGTH` and the example values people copy; its
message names the variable and how to make a password, never the value.

:class:`BasicAuthGate` checks each request's ``Authorization`` header against those pairs and
:class:`FailedLoginBucket` caps how many wrong ones are checked: a token is reserved *before*
the comparison and given back when the credentials are right, so only failures spend it and a
burst of concurrent guesses gets no more checks than the bucket holds. Errors:

    FlowerCredentialsError (ValueError)  FLOWER_BASIC_AUTH is missing, malformed or an example
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "BasicAuthGate",
    "FailedLoginBucket",
    "FlowerCredentialsError",
    "Verdict",
    "parse_credentials",
]

VARIABLE = "FLOWER_BASIC_AUTH"
MIN_PASSWORD_LENGTH = 12
HOW_TO_SET = (
    "set it to user:password pairs separated by commas, each password generated, "
    "e.g. ops:$(openssl rand -hex 16)"
)
# Words found in the example and default passwords people leave in place; none can occur in a
# hex string, so a generated password is never refused for containing one.
EXAMPLE_WORDS = (
    "change",
    "example",
    "password",
    "passwd",
    "secret",
    "admin",
    "flower",
    "default",
    "letmein",
    "qwerty",
)


class FlowerCredentialsError(ValueError):
    """``FLOWER_BASIC_AUTH`` cannot protect Flower; the message says why and what to do."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{VARIABLE}: {problem}; {HOW_TO_SET}")
        self.problem = problem


def parse_credentials(value: str | None) -> tuple[str, ...]:
    """The ``user:password`` pairs of ``value``, each checked; raises
    :class:`FlowerCredentialsError` naming the first problem (and the user, never a password).

    A pair must be ASCII (Flower's own check fails with 500 on anything else). A password must
    have :data:`MIN_PASSWORD_LENGTH` characters, 6 distinct ones at least, differ from its user
    name and contain none of :data:`EXAMPLE_WORDS`; commas separate pairs, so a password cannot
    hold one. This catches the values people copy, not every weak choice:
    generate the password."""
    if value is None or not value.strip():
        raise FlowerCredentialsError("is required")
    pairs: list[str] = []
    for number, entry in enumerate(value.split(","), start=1):
        user, colon, password = entry.strip().partition(":")
        if not colon or not user or not password:
            raise FlowerCredentialsError(f"entry {number} is not user:password")
        if not entry.isascii():  # Flower compares with hmac.compare_digest: str must be ASCII
            raise FlowerCredentialsError(
                f"entry {number} has a character outside ASCII, which Flower's login cannot "
                "compare (it answers 500)"
            )
        lowered = password.lower()
        if lowered == user.lower() or any(word in lowered for word in EXAMPLE_WORDS):
            raise FlowerCredentialsError(f"has an example password for {user!r}")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise FlowerCredentialsError(
                f"has a password for {user!r} shorter than {MIN_PASSWORD_LENGTH} characters"
            )
        if len(set(password)) < 6:
            raise FlowerCredentialsError(f"has a password for {user!r} of repeated characters")
        pairs.append(f"{user}:{password}")
    return tuple(pairs)


class FailedLoginBucket:
    """A token bucket of failed logins for one process: ``burst`` at once, then one every
    ``1 / per_second`` seconds (the defaults: 10, then 1 a second, so 200 wrong guesses take
    more than three minutes however many connections send them).

    Trade-off: the bucket is shared by every client, because behind an SSH tunnel or a proxy
    every client has the same address; while someone floods Flower with wrong passwords, an
    operator's login waits too (429 with ``Retry-After``) until the flood stops. Not
    thread-safe: Flower's tornado loop calls it from one thread."""

    def __init__(
        self,
        burst: int = 10,
        per_second: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or per_second <= 0:
            raise ValueError("burst must be at least 1 and per_second above 0")
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def reserve(self) -> float:
        """Take a token: 0.0 when one was taken, else the seconds until one is free."""
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.per_second)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.per_second

    def refund(self) -> None:
        """Give back the token of a check that succeeded."""
        self._tokens = min(float(self.burst), self._tokens + 1)


@dataclass(frozen=True)
class Verdict:
    """What the gate decided: ``status`` 200 (let Flower answer), 401 or 429; ``retry_after``
    in whole seconds for 429."""

    status: int
    retry_after: int = 0

    @property
    def admitted(self) -> bool:
        return self.status == 200


ADMITTED = Verdict(200)
UNAUTHORIZED = Verdict(401)


class BasicAuthGate:
    """Checks an ``Authorization: Basic`` header against the credentials of
    :func:`parse_credentials`, in constant time per pair. A request without the header is
    answered 401 without spending a token (it guesses nothing: browsers send one first to
    learn that a password is wanted); a malformed header counts as a failed guess."""

    def __init__(self, credentials: tuple[str, ...], bucket: FailedLoginBucket) -> None:
        if not credentials:
            raise ValueError("no credentials: nobody could log in")
        self._credentials = tuple(pair.encode() for pair in credentials)
        self.bucket = bucket

    def admit(self, authorization: str | None) -> Verdict:
        if not authorization:
            return UNAUTHORIZED
        wait = self.bucket.reserve()
        if wait:
            return Verdict(429, max(1, math.ceil(wait)))
        if self._matches(authorization):
            self.bucket.refund()
            return ADMITTED
        return UNAUTHORIZED

    def _matches(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        matched = False
        for pair in self._credentials:  # every pair compared: the time tells nothing
            matched |= hmac.compare_digest(pair, given)
        return matched
