"""Meta's warning that a call to an expired Marketing API version was upgraded silently.

Meta's Marketing API "Versioning" page: once a version is unavailable, calls to it "may fail or
be upgraded to the next available version". Meta's post "Upcoming change in Marketing API
version deprecation to enable version auto-upgrade" (developers blog, 2024-04-16) says how the
upgrade shows: the answer carries an ``X-Ad-Api-Version-Warning`` response header (endpoints
the next version changed still fail with ``(#2635)``; an app can turn the upgrade off in its
dashboard, "Ads API Version Settings"). The Graph API's "Platform Versioning" guide adds the
``facebook-api-version`` response header naming the version that served the call.

Such a call succeeds with another version's semantics nobody chose, so metasync records the
warning on the connection (:func:`record_version_warning`: ``metasync connections list`` and
``show``), exposes it as ``metasync_api_version_warning`` on ``/metrics`` and alerts on it
(``deploy/prometheus/alerts.yml`` and the built-in notifier) for
:data:`VERSION_WARNING_WINDOW` after the last call that carried it.

Decision (Meta's pages are silent on the header's wording): its text is stored as sent,
truncated to :data:`MAX_WARNING_CHARS`; it names versions, never tokens or ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "MAX_WARNING_CHARS",
    "SERVED_VERSION_HEADER",
    "VERSION_WARNING_HEADER",
    "VERSION_WARNING_WINDOW",
    "VersionWarning",
    "recent_version_warning",
    "record_version_warning",
    "version_warning_of",
]

VERSION_WARNING_HEADER = "X-Ad-Api-Version-Warning"
SERVED_VERSION_HEADER = "facebook-api-version"
MAX_WARNING_CHARS = 300
VERSION_WARNING_WINDOW = timedelta(hours=24)  # a warning counts this long after it was last seen
RECORD_EVERY = timedelta(minutes=10)  # a connection's record is rewritten at most this often


@dataclass(frozen=True)
class VersionWarning:
    """One answer's version warning: Meta's text and the version that served the call (None
    when Meta did not say)."""

    text: str
    served_version: str | None


def version_warning_of(headers: Mapping[str, str]) -> VersionWarning | None:
    """The version warning of an answer's headers (case-insensitive, as ``requests`` gives
    them), or None when the answer carries none."""
    text = (headers.get(VERSION_WARNING_HEADER) or "").strip()
    if not text:
        return None
    served = (headers.get(SERVED_VERSION_HEADER) or "").strip() or None
    return VersionWarning(text[:MAX_WARNING_CHARS], served)


def recent_version_warning(connection: Any, now: datetime) -> str | None:
    """What the CLI and console say about a connection's version warning while it is recent
    (:data:`VERSION_WARNING_WINDOW`); None otherwise."""
    seen = connection.api_version_warning_at
    if seen is not None and seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)  # MongoDB gives naive UTC back
    if not connection.api_version_warning or seen is None or seen < now - VERSION_WARNING_WINDOW:
        return None
    served = f" to {connection.api_version_served}" if connection.api_version_served else ""
    return (
        f"Meta upgraded calls{served} from an expired API version (last {seen:%Y-%m-%d %H:%M} "
        f"UTC): {connection.api_version_warning}"
    )


def record_version_warning(connection_id: str, warning: VersionWarning, now: datetime) -> bool:
    """Store ``warning`` on the connection's record; True when written.

    One write per connection per :data:`RECORD_EVERY` at most, unless the text changed: every
    call of a sync carries the header once the version expired, and the record only needs to
    say it still happens.
    """
    from metasync.models import MetaConnection

    fresh = {"api_version_warning__ne": warning.text}
    recent = {"api_version_warning_at__lt": now - RECORD_EVERY}
    written = 0
    for condition in (fresh, recent):  # a record without a warning matches ``fresh``
        written = MetaConnection.objects(pk=connection_id, **condition).update_one(
            set__api_version_warning=warning.text,
            set__api_version_warning_at=now,
            set__api_version_served=warning.served_version,
        )
        if written:
            break
    return bool(written)
