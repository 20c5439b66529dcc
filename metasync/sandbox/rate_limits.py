"""The sandbox's own reading of Meta's Marketing API rate limits: which budget a call spends and
how large Meta makes it. Kept apart from metasync's governor on purpose: if metasync misread
Meta, a sandbox that shared its reading would agree with it and every test would pass.

Meta's "Rate limiting" page (developers.facebook.com/docs/marketing-api/overview/rate-limiting,
"Business use case rate limits"; the access tiers renamed "Limited" and "Full Access" in 2026):
Marketing API calls count per ad account and business use case over a rolling hour, each use
case's budget a base plus a number of calls per active ad:

- ``ads_management`` (reading and writing ad objects): limited 300 + 40 x active ads, full
  100,000 + 40 x active ads;
- ``ads_insights`` (``/insights`` and report runs): limited 600 + 400 x active ads, full
  190,000 + 400 x active ads.

Calls outside the Marketing API (the ``/me`` node and its edges, ``debug_token``, the token
exchange) spend the user's Graph API platform budget instead ("Platform rate limits": 200 calls
per user per hour).
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["ADS_INSIGHTS", "ADS_MANAGEMENT", "PLATFORM", "hourly_budget", "use_case_of"]

ADS_MANAGEMENT = "ads_management"
ADS_INSIGHTS = "ads_insights"
PLATFORM = "platform"
# tier -> use case -> (base, calls per active ad)
BUDGETS = {
    "limited": {ADS_MANAGEMENT: (300, 40), ADS_INSIGHTS: (600, 400)},
    "full": {ADS_MANAGEMENT: (100_000, 40), ADS_INSIGHTS: (190_000, 400)},
}
PLATFORM_NODES = frozenset({"me", "debug_token", "oauth/access_token"})


def hourly_budget(tier: str, use_case: str, active_ads: int) -> int:
    """Calls per rolling hour Meta allows one ad account for ``use_case`` in ``tier``."""
    if tier not in BUDGETS or use_case not in BUDGETS[tier]:
        raise ValueError(f"Meta has no {use_case!r} budget for an app of tier {tier!r}")
    base, per_ad = BUDGETS[tier][use_case]
    return base + per_ad * max(0, active_ads)


def use_case_of(path: str) -> str:
    """The budget a call to ``path`` (relative, or a paging URL with its version) spends; a
    batch envelope or a multi-id read says nothing itself (its items are counted)."""
    if "://" in path:
        path = urlsplit(path).path.split("/", 2)[-1]
    parts = [p for p in path.split("?", 1)[0].strip("/").split("/") if p]
    if parts and parts[-1] == "insights":
        return ADS_INSIGHTS
    if parts and (parts[0] == "me" or "/".join(parts) in PLATFORM_NODES):
        return PLATFORM
    return ADS_MANAGEMENT
