"""The Marketing API versions the sandbox serves, and reading a version's number."""

from __future__ import annotations

__all__ = ["LIVE_VERSIONS", "version_number"]

# Meta's live Marketing API versions on 2026-12-01 (Marketing API changelog, "Versions"):
# v24.0 expired on 2026-11-10, v25.0 expires on 2027-02-23, v26.0 and v27.0 have no date yet.
LIVE_VERSIONS = ("v25.0", "v26.0", "v27.0")


def version_number(version: str) -> tuple[int, ...] | None:
    """``"v25.0"`` -> ``(25, 0)``; None for a name that is no version."""
    try:
        return tuple(int(part) for part in version.removeprefix("v").split("."))
    except ValueError:
        return None
