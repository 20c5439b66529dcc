"""Meta's Marketing API versions and when each one expires.

Source: Meta's Marketing API changelog, "Versions" (also in ``shared/META_API.md``). The Marketing
API retires versions faster than the Graph API: a call to an expired version answers
``(#2635) You are calling a deprecated version of the Ads API``. Meta may silently upgrade calls
to endpoints a version did not change, but nothing here relies on that.

Decision: the default is ``v26.0``, the version the official ``facebook-business`` SDK of the
same generation targets; it has no expiry date yet, and ``v25.0`` expires within 90 days of
this table's last update. Update :data:`VERSIONS` when Meta publishes a date; a version newer
than the table is allowed with a warning (it is probably live, but we cannot say until when).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = [
    "DEFAULT_VERSION",
    "VERSIONS",
    "WARN_DAYS",
    "VersionStatus",
    "live_versions",
    "version_status",
]

#: version -> (released, expires or None while Meta has published no date)
VERSIONS: dict[str, tuple[date, date | None]] = {
    "v21.0": (date(2024, 10, 2), date(2025, 9, 9)),
    "v22.0": (date(2025, 1, 21), date(2026, 2, 19)),
    "v23.0": (date(2025, 5, 29), date(2026, 6, 9)),
    "v24.0": (date(2025, 10, 8), date(2026, 11, 10)),
    "v25.0": (date(2026, 2, 18), date(2027, 2, 23)),
    "v26.0": (date(2026, 7, 29), None),
    "v27.0": (date(2026, 11, 4), None),
}
DEFAULT_VERSION = "v26.0"
WARN_DAYS = 90  # a version expiring within this many days gets a loud warning
_VERSION = re.compile(r"^v(\d+)\.(\d+)$")


def _number(version: str) -> tuple[int, int]:
    match = _VERSION.match(version)
    if not match:
        raise ValueError(f"{version!r} is not a version such as {DEFAULT_VERSION}")
    return int(match.group(1)), int(match.group(2))


def live_versions(today: date) -> list[str]:
    """Versions of the table that have not expired on ``today``, oldest first."""
    return [
        version
        for version, (released, expires) in sorted(VERSIONS.items(), key=lambda i: _number(i[0]))
        if released <= today and (expires is None or expires > today)
    ]


@dataclass(frozen=True)
class VersionStatus:
    """What ``version`` is on ``today``: ``live``, ``expiring`` (within :data:`WARN_DAYS`),
    ``expired`` or ``unknown`` (newer than the table). ``message`` says what to do."""

    version: str
    state: str
    expires: date | None
    message: str

    @property
    def usable(self) -> bool:
        return self.state != "expired"


def version_status(version: str, today: date) -> VersionStatus:
    """Classify ``version`` on ``today`` (a date, so tests can move the clock)."""
    number = _number(version)
    live = live_versions(today)
    advice = f"set META_API_VERSION to {DEFAULT_VERSION} (live: {', '.join(live) or 'none'})"
    known = VERSIONS.get(version)
    if known is None:
        oldest = min(VERSIONS, key=_number)
        if number < _number(oldest) or number < _number(max(VERSIONS, key=_number)):
            return VersionStatus(
                version, "expired", None, f"{version} is not a live Marketing API version; {advice}"
            )
        return VersionStatus(
            version,
            "unknown",
            None,
            f"{version} is newer than metasync's version table; its expiry date is unknown",
        )
    expires = known[1]
    if expires is not None and expires <= today:
        return VersionStatus(
            version, "expired", expires, f"{version} expired on {expires}; {advice}"
        )
    if expires is not None and (expires - today).days <= WARN_DAYS:
        days = (expires - today).days
        return VersionStatus(
            version,
            "expiring",
            expires,
            f"{version} expires on {expires} (in {days} days): every call will then fail with "
            f"(#2635); {advice}",
        )
    return VersionStatus(version, "live", expires, f"{version} is live")
