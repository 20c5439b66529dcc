"""How long what grows is kept: every collection that gains documents with time has a limit.

Runs, report jobs, webhook events and export runs expire by MongoDB TTL index
(``RUN_RETENTION_DAYS``, :func:`metasync.db.ensure_retention`). The rest is removed by
:func:`purge_old_records`, which beat runs once a day, because what may go depends on more than
age (a recommendation still proposed or approved is never removed, whatever its age):

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
======================  ==================================  ================================

Each removal is one ``delete_many`` on an index of the time field.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from metasync.config import Settings
from metasync.models import (
    AdActivity,
    AuditEntry,
    ChangeRecord,
    OperatorAction,
    Recommendation,
    Reconciliation,
    utcnow,
)

__all__ = ["UNSETTLED", "purge_old_records"]

UNSETTLED = ("proposed", "approved")  # a decision or a write may still come: never removed


def purge_old_records(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Remove what is past its retention; returns the documents removed per collection."""
    now = now or utcnow()

    def before(days: int) -> datetime:
        return now - timedelta(days=days)

    removed = {
        "recommendations": Recommendation.objects(
            proposed_at__lt=before(settings.RECOMMENDATION_RETENTION_DAYS), state__nin=UNSETTLED
        ).delete(),
        "optimizer_audit": AuditEntry.objects(
            at__lt=before(settings.AUDIT_RETENTION_DAYS)
        ).delete(),
        "operator_actions": OperatorAction.objects(
            at__lt=before(settings.OPERATOR_ACTION_RETENTION_DAYS)
        ).delete(),
        "ad_activities": AdActivity.objects(
            event_time__lt=before(settings.ACTIVITY_RETENTION_DAYS)
        ).delete(),
        "change_records": ChangeRecord.objects(
            seen_at__lt=before(settings.ACTIVITY_RETENTION_DAYS)
        ).delete(),
        "reconciliations": Reconciliation.objects(
            checked_at__lt=before(settings.RECONCILIATION_RETENTION_DAYS)
        ).delete(),
    }
    return {name: int(count or 0) for name, count in removed.items()}
