"""Keep secrets out of anything that can be logged, raised or stored.

Meta puts ``access_token=`` in ``paging.next`` URLs; token exchange and ``debug_token`` put the
app secret and user tokens in query strings; ``requests``/``urllib3`` echo URLs in their
exception messages. Everything that leaves the client as text goes through :func:`redact`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["SECRET_PARAMS", "redact", "redact_url", "strip_secret_params"]

SECRET_PARAMS = frozenset(
    {
        "access_token",
        "appsecret_proof",
        "client_secret",
        "fb_exchange_token",
        "input_token",
        "code",
        "verify_token",
        "hub.verify_token",
    }
)
MASK = "[redacted]"
_PARAM_RE = re.compile(
    r"(?P<name>"
    + "|".join(re.escape(name) for name in sorted(SECRET_PARAMS, key=len, reverse=True))
    + r")(?P<sep>=|%3D)(?P<value>[^&\s'\"<>]+)",
    re.IGNORECASE,
)
_BEARER_RE = re.compile(r"(?i)(bearer|oauth)\s+[A-Za-z0-9|_\-.%]+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask secret query parameters, bearer headers and each given secret string in ``text``."""
    cleaned = _PARAM_RE.sub(lambda m: f"{m.group('name')}{m.group('sep')}{MASK}", text)
    cleaned = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", cleaned)
    for secret in secrets:
        if secret and len(secret) >= 6:
            cleaned = cleaned.replace(secret, MASK)
    return cleaned


def strip_secret_params(url: str) -> str:
    """``url`` without any secret query parameter (for following ``paging.next``)."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in SECRET_PARAMS
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def redact_url(url: str) -> str:
    """``url`` with secret parameter values masked (kept as names so logs show their presence)."""
    return redact(url)
