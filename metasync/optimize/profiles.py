"""Each ad account's arrival profile (:mod:`metasync.optimize.maturity`), learned from what the
sync recorded of its days (:class:`~metasync.models.ConversionArrivals`).

Cost: one query per evaluation for the tenant's final days of the last ``HISTORY_DAYS``
(about 90 small documents per account); learning them is arithmetic on 29 ages each.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from metasync.models import FINAL_AGE, ConversionArrivals
from metasync.optimize.maturity import HISTORY_DAYS, ArrivalProfile, learn_profile

__all__ = ["account_profiles"]


def account_profiles(tenant_id: str, through: dict[str, date]) -> dict[str, ArrivalProfile]:
    """The arrival profile of each of ``through``'s accounts (newest complete day each) that
    has final days recorded, from its newest ``HISTORY_DAYS`` final days."""
    if not through:
        return {}
    oldest = min(through.values()) - timedelta(days=FINAL_AGE + HISTORY_DAYS)
    days: dict[str, list[dict[int, float]]] = defaultdict(list)
    found = ConversionArrivals.objects(
        tenant_id=tenant_id, account_id__in=list(through), date__gte=oldest.isoformat()
    )
    for doc in found.only("account_id", "date", "seen"):
        newest = through[doc.account_id] - timedelta(days=FINAL_AGE - 1)
        if doc.date >= (newest - timedelta(days=HISTORY_DAYS)).isoformat():
            days[doc.account_id].append({int(age): float(n) for age, n in (doc.seen or {}).items()})
    profiles = {}
    for account, seen in days.items():
        profile = learn_profile(seen)
        if profile is not None:
            profiles[account] = profile
    return profiles
