"""Meta ids that go into request paths, validated before they do.

An id from a response (a ``report_run_id``), a webhook or the command line becomes part of a
Graph path; anything but digits (``act_`` + digits for ad accounts) could point a request, and
the token with it, somewhere else. The client also refuses absolute URLs to any host or version
but the configured one (:meth:`GraphClient.request`).
"""

from __future__ import annotations

import re

from metasync.graph.errors import InvalidRequestError

__all__ = ["account_number", "meta_id"]

_ID = re.compile(r"\d{1,25}")
_ACCOUNT = re.compile(r"(act_)?(\d{1,25})")


def meta_id(value: object, what: str = "object id") -> str:
    """``value`` as a numeric Meta id; :class:`InvalidRequestError` naming ``what`` otherwise."""
    text = str(value).strip()
    if not _ID.fullmatch(text):
        raise InvalidRequestError(f"{what} {text[:40]!r} is not a Meta id (digits only)")
    return text


def account_number(value: object) -> str:
    """An ad account id (``act_123`` or ``123``) as its number, validated."""
    match = _ACCOUNT.fullmatch(str(value).strip())
    if not match:
        raise InvalidRequestError(
            f"ad account {str(value)[:40]!r} is not a Meta ad account id (act_ and digits)"
        )
    return match.group(2)
