"""Meta's webhook signatures, checked over the raw body bytes in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

__all__ = ["SignatureError", "verify_signature"]


_HEX = re.compile(r"[0-9a-f]+")


class SignatureError(Exception):
    """The request is not signed by Meta with our app secret (missing or wrong signature)."""

    def __init__(self, message: str, *, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def verify_signature(body: bytes, headers: Mapping[str, str], app_secret: str) -> str:
    """Check ``X-Hub-Signature-256`` (or the older ``X-Hub-Signature`` sha1) over ``body``.

    Returns the algorithm that matched; raises :class:`SignatureError` otherwise.
    """
    for name, algorithm, digest in (
        ("X-Hub-Signature-256", "sha256", hashlib.sha256),
        ("X-Hub-Signature", "sha1", hashlib.sha1),
    ):
        value = _header(headers, name)
        if value is None:
            continue
        prefix = f"{algorithm}="
        if not value.startswith(prefix):
            raise SignatureError(f"{name} must start with {prefix}", missing=False)
        given = value[len(prefix) :].strip().lower()
        expected = hmac.new(app_secret.encode(), body, digest).hexdigest()
        # compare_digest refuses non-ASCII text (TypeError): check the shape first, so any
        # malformed header (not hex, wrong length, oversized, non-ASCII) is a 4xx, never a 5xx
        if not _HEX.fullmatch(given) or len(given) != len(expected):
            raise SignatureError(
                f"{name} must be {prefix} followed by {len(expected)} hex digits", missing=False
            )
        if not hmac.compare_digest(given, expected):
            raise SignatureError(f"{name} does not match the body", missing=False)
        return algorithm
    raise SignatureError("no X-Hub-Signature-256 or X-Hub-Signature header", missing=True)
