"""Meta's effective statuses per object level, and the filter that asks for all of them.

Meta leaves ARCHIVED and DELETED objects out of edges (``act_{id}/ads``) and out of
``act_{id}/insights?level=ad`` rows unless the request filters on ``{level}.effective_status``
("Manage your ad object's status"). A mirror that must keep every object and every daily row
therefore sends this filter with all statuses on every listing and every insights read.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EFFECTIVE_STATUSES", "all_statuses_rule"]

_LIVE = ["ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES"]
EFFECTIVE_STATUSES: dict[str, list[str]] = {
    "campaign": _LIVE,
    "adset": [*_LIVE, "CAMPAIGN_PAUSED"],
    "ad": [
        *_LIVE,
        "CAMPAIGN_PAUSED",
        "ADSET_PAUSED",
        "DISAPPROVED",
        "PENDING_REVIEW",
        "PREAPPROVED",
        "PENDING_BILLING_INFO",
    ],
}


def all_statuses_rule(level: str) -> dict[str, Any]:
    """``{level}.effective_status IN [every status of the level]`` (campaign, adset or ad)."""
    return {
        "field": f"{level}.effective_status",
        "operator": "IN",
        "value": list(EFFECTIVE_STATUSES[level]),
    }
