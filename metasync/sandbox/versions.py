"""The Marketing API versions the sandbox serves, and reading a version's number."""

from __future__ import annotations

__all__ = [
    "LIVE_VERSIONS",
    "SERVED_VERSION_HEADER",
    "VERSION_WARNING_HEADER",
    "auto_upgrade",
    "version_number",
]

# Meta's live Marketing API versions on 2026-12-01 (Marketing API changelog, "Versions"):
# v24.0 expired on 2026-11-10, v25.0 expires on 2027-02-23, v26.0 and v27.0 have no date yet.
LIVE_VERSIONS = ("v25.0", "v26.0", "v27.0")


# Meta's post "Upcoming change in Marketing API version deprecation to enable version
# auto-upgrade" (developers blog, 2024-04-16): a call to a deprecated version of an endpoint the
# next version did not change is served by the next available version, and the answer carries
# X-Ad-Api-Version-Warning; an app can turn this off ("Ads API Version Settings"), and then, as
# for endpoints the next version changed, the call fails with (#2635). The Graph API's "Platform
# Versioning" guide: the facebook-api-version response header names the version that answered.
VERSION_WARNING_HEADER = "X-Ad-Api-Version-Warning"
SERVED_VERSION_HEADER = "facebook-api-version"


def auto_upgrade(version: str, served: tuple[str, ...]) -> tuple[str, dict[str, str]] | None:
    """The version an expired ``version`` is upgraded to (the oldest served one newer than it)
    and the headers saying so; None for a name that is no version or is not older than any
    served one. The warning's wording is the sandbox's own (Meta's pages do not quote it).
    Every endpoint is upgraded: the ones a newer version changed (Meta's post lists mostly
    writes: ad sets, audiences, ...) are not told apart, since a batch of reads is a POST too
    and Meta's pages do not say how a batch is upgraded."""
    number = version_number(version)
    if number is None:
        return None
    newer = [v for v in served if (version_number(v) or (0,)) > number]
    if not newer:
        return None
    target = min(newer, key=lambda v: version_number(v) or (0,))
    text = f"{version} is deprecated; this call was auto-upgraded to {target}."
    return target, {VERSION_WARNING_HEADER: text, SERVED_VERSION_HEADER: target}


def version_number(version: str) -> tuple[int, ...] | None:
    """``"v25.0"`` -> ``(25, 0)``; None for a name that is no version."""
    try:
        return tuple(int(part) for part in version.removeprefix("v").split("."))
    except ValueError:
        return None
