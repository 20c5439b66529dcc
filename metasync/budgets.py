"""Which budget a Graph call spends, and how large Meta makes that budget.

Meta counts Marketing API calls per ad account and business use case, per rolling hour, from
formulas that grow with the account's active ads (Meta's "Rate limiting" pages,
https://developers.facebook.com/docs/marketing-api/overview/rate-limiting; the access tiers were
renamed "Limited" and "Full Access" in 2026):

============== ============================ ================================
use case       limited tier (development)   full tier
============== ============================ ================================
ads_management 300 + 40 x active ads        100,000 + 40 x active ads
ads_insights   600 + 400 x active ads       190,000 + 400 x active ads
============== ============================ ================================

Only calls that are not Marketing API calls (``/me`` and its edges, ``debug_token``, token
exchange) spend the user's Graph API platform budget (200 calls per user per hour; metasync
keeps to ``META_RATE_LIMIT_CALLS_PER_HOUR``, 180 by default).

The rate governor counts with it; the sandbox keeps its own reading of the same pages
(``metasync/sandbox/rate_limits.py``), so a misreading on either side fails a test.
"""

from __future__ import annotations

from typing import Final, Literal
from urllib.parse import urlsplit

__all__ = [
    "ADS_INSIGHTS",
    "ADS_MANAGEMENT",
    "PLATFORM",
    "TIERS",
    "UseCase",
    "hourly_budget",
    "use_case_of",
]

ADS_MANAGEMENT: Final = "ads_management"
ADS_INSIGHTS: Final = "ads_insights"
PLATFORM: Final = "platform"
UseCase = Literal["ads_management", "ads_insights", "platform"]
TIERS = ("limited", "full")

# (base, per active ad) per tier and use case.
_FORMULAS: dict[str, dict[str, tuple[int, int]]] = {
    "limited": {ADS_MANAGEMENT: (300, 40), ADS_INSIGHTS: (600, 400)},
    "full": {ADS_MANAGEMENT: (100_000, 40), ADS_INSIGHTS: (190_000, 400)},
}
_PLATFORM_PATHS = ("me", "debug_token", "oauth/access_token")


def formula(tier: str, use_case: str) -> tuple[int, int]:
    """(base, calls per active ad) of a use case's hourly budget in ``tier``."""
    try:
        return _FORMULAS[tier][use_case]
    except KeyError:
        raise ValueError(
            f"no Meta budget for tier {tier!r} and use case {use_case!r}; "
            f"tiers are {', '.join(TIERS)}, use cases {ADS_MANAGEMENT} and {ADS_INSIGHTS}"
        ) from None


def hourly_budget(tier: str, use_case: str, active_ads: int) -> int:
    """Calls per rolling hour Meta allows one ad account for ``use_case``."""
    base, per_ad = formula(tier, use_case)
    return base + per_ad * max(0, active_ads)


def use_case_of(path: str) -> UseCase:
    """The budget a call to ``path`` (relative, or a full paging URL) spends.

    Insights reads (and report runs' insights pages) spend ``ads_insights``; the user node and
    token endpoints spend the user's platform budget; every other object read or write spends
    ``ads_management``. A report run's status read is an ``ads_insights`` call too, but its path
    does not say so: callers name the use case for it.
    """
    if path.startswith(("http://", "https://")):
        path = urlsplit(path).path.split("/", 2)[-1]  # drop the version segment
    parts = [part for part in path.strip("/").split("?", 1)[0].split("/") if part]
    if not parts:
        return ADS_MANAGEMENT  # a batch or multi-id read: its items say more
    if parts[-1] == "insights":
        return ADS_INSIGHTS
    joined = "/".join(parts)
    if parts[0] == "me" or joined in _PLATFORM_PATHS:
        return PLATFORM
    return ADS_MANAGEMENT
