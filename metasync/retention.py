"""How long what grows is kept: every collection that gains documents with time has a limit.

Runs, report jobs, webhook events and export runs expire by MongoDB TTL index
(``RUN_RETENTION_DAYS``, :func:`metasync.db.ensure_retention`). The rest is removed by
:func:`purge_old_records`, which beat runs once a day, because what may go depends on more than
age (a recommendation still proposed, approved, failed or restore_refused is never removed,
whatever its age):

======================  ==================================  ================================
collection              removed when older than             setting (default)
======================  ==================================  ================================
recommendations         settled, proposed before the limit  RECOMMENDATION_RETENTION_DAYS 730
optimizer_audit         written before the limit            AUDIT_RETENTION_DAYS 2555 (kept
                                                            longest: what was written to Meta)
operator_actions        taken before the limit              OPERATOR_ACTION_RETENTION_DAYS 730
ad_activities,          Meta's event time / first seen      ACTIVITY_RETENTION_DAYS 400
change_records          before the limit
reconciliations         checked before the limit            RECONCILIATION_RETENTION_DAYS 400
conversion_arrivals     last read before the limit          ACTIVITY_RETENTION_DAYS 400 (the
                                                            optimizer learns from 118 days)
======================  ==================================  ================================

Each removal is one ``delete_many`` on an index of the time field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mongoengine import Document

from metasync.config import Settings
from metasync.models import (
    AdActivity,
    AuditEntry,
    ChangeRecord,
    ConversionArrivals,
    OperatorAction,
    Recommendation,
    Reconciliation,
    utcnow,
)

__all__ = ["PURGED", "UNSETTLED", "purge_old_records"]

# a decision or a write may still come (a failed apply retried, a refused take-back tried
# again): never removed
UNSETTLED = ("proposed", "approved", "failed", "restore_refused")
SETTLED = {"state__nin": UNSETTLED}  # the recommendations a purge may remove
# collection -> (its document, the time field, the setting of its days, what else must hold)
PURGED: dict[str, tuple[type[Document], str, str, dict[str, Any]]] = {
    "recommendations": (Recommendation, "proposed_at", "RECOMMENDATION_RETENTION_DAYS", SETTLED),
    "optimizer_audit": (AuditEntry, "at", "AUDIT_RETENTION_DAYS", {}),
    "operator_actions": (OperatorAction, "at", "OPERATOR_ACTION_RETENTION_DAYS", {}),
    "ad_activities": (AdActivity, "event_time", "ACTIVITY_RETENTION_DAYS", {}),
    "change_records": (ChangeRecord, "seen_at", "ACTIVITY_RETENTION_DAYS", {}),
    "reconciliations": (Reconciliation, "checked_at", "RECONCILIATION_RETENTION_DAYS", {}),
    "conversion_arrivals": (ConversionArrivals, "updated_at", "ACTIVITY_RETENTION_DAYS", {}),
}


def purge_old_records(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Remove what is past its retention; returns the documents removed per collection."""
    now = now or utcnow()
    removed = {}
    for name, (document, field, setting, extra) in PURGED.items():
        cutoff = now - timedelta(days=int(getattr(settings, setting)))
        removed[name] = int(document.objects(**{f"{field}__lt": cutoff}, **extra).delete() or 0)
    return removed
