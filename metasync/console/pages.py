"""What the console's pages show, gathered from MongoDB and Redis (no HTML here).

The overview is one page of the kept health records
(:func:`metasync.health.records.health_page`: the same few commands at any number of
accounts). An account's page reads its health record, its last runs, report jobs, reconciled
days and webhook events (each a bounded, indexed query: the newest 15 to 30) and its last 30
days of spend and rows.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import redis

from metasync.graph.version_warning import recent_version_warning
from metasync.health.pages import FLAGS, HealthPage, health_page, one_health
from metasync.keys import RedisKeys
from metasync.models import (
    AccountFeatures,
    Ad,
    AdSet,
    DailyInsight,
    OperatorAction,
    OptimizerSettings,
    Recommendation,
    Reconciliation,
    ReportAccess,
    ReportAccessState,
    ReportRun,
    SyncRun,
    WebhookEvent,
    find_connection,
    utcnow,
)
from metasync.optimize.figures import number
from metasync.reports.catalogue import FEATURE_BREAKDOWNS

# Meta's Feature Settings API features an operator may enable (Meta's page of that name)
FEATURE_NAMES = tuple(FEATURE_BREAKDOWNS)

__all__ = ["FLAGS", "account_page", "overview"]

CHART_DAYS = 30


def overview(
    client: redis.Redis | None,
    keys: RedisKeys,
    flag: str | None,
    tenant: str | None = None,
    search: str | None = None,
    page: int = 1,
) -> HealthPage:
    """One page of accounts: of ``tenant``, matching ``search``, flagged ``flag`` (each when
    given)."""
    return health_page(client, keys, flag=flag, tenant=tenant, search=search, page=page)


def _per_day(
    tenant_id: str, account_id: str
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    since = (date.today() - timedelta(days=CHART_DAYS)).isoformat()
    account_days = DailyInsight.objects(
        tenant_id=tenant_id,
        account_id=account_id,
        level="account",
        breakdown_key="",
        date__gte=since,
    )
    spend = [
        (row.date, number(row.spend)) for row in account_days.only("date", "spend").order_by("date")
    ]
    pipeline = [
        {"$match": {"tenant_id": tenant_id, "account_id": account_id, "date": {"$gte": since}}},
        {"$group": {"_id": "$date", "rows": {"$sum": 1}}},
        {"$sort": {"_id": 1}},
    ]
    rows = [(r["_id"], float(r["rows"])) for r in DailyInsight.objects.aggregate(pipeline)]
    return spend, rows


def _names(tenant_id: str, recommendations: list[Recommendation]) -> dict[str, str]:
    """Meta id -> name of the ads and ad sets the recommendations are about (one query per
    level, at most 20 ids)."""
    names: dict[str, str] = {}
    for level, document in (("ad", Ad), ("adset", AdSet)):
        wanted = sorted({r.entity_id for r in recommendations if r.level == level})
        if wanted:
            for found in document.objects(tenant_id=tenant_id, meta_id__in=wanted).only(
                "meta_id", "name"
            ):
                names[found.meta_id] = found.name or ""
    return names


def account_page(
    client: redis.Redis | None, keys: RedisKeys, connection_id: str, account_id: str
) -> dict[str, Any] | None:
    """Everything the account page shows, or None when no connection holds that account."""
    connection = find_connection(connection_id)
    if connection is None:
        return None
    health = one_health(client, keys, connection_id, account_id)
    if health is None:
        return None
    spend, rows = _per_day(connection.tenant_id, account_id)
    recommendations = list(
        Recommendation.objects(tenant_id=connection.tenant_id, account_id=account_id)
        .order_by("-proposed_at")
        .limit(20)
    )
    return {
        "health": health,
        "runs": list(
            SyncRun.objects(connection_id=connection_id).order_by("-started_at").limit(15)
        ),
        "jobs": list(
            ReportRun.objects(connection_id=connection_id, account_id=account_id)
            .order_by("-created_at")
            .limit(15)
        ),
        "days": list(
            Reconciliation.objects(tenant_id=connection.tenant_id, account_id=account_id)
            .order_by("-date")
            .limit(30)
        ),
        "webhooks": list(
            WebhookEvent.objects(account_id=account_id).order_by("-received_at").limit(20)
        ),
        "recommendations": recommendations,
        "entity_names": _names(connection.tenant_id, recommendations),
        "optimizer": OptimizerSettings.objects(tenant_id=connection.tenant_id)
        .only("mode", "evaluation_error", "evaluation_failed_at")
        .first(),
        "actions": list(
            OperatorAction.objects(tenant_id=connection.tenant_id, target=connection_id)
            .order_by("-at")
            .limit(10)
        ),
        "features": AccountFeatures.objects(
            tenant_id=connection.tenant_id, account_id=account_id
        ).first(),
        "feature_names": FEATURE_NAMES,
        "version_warning": recent_version_warning(connection, utcnow()),
        "withheld": list(
            ReportAccess.objects(
                tenant_id=connection.tenant_id,
                account_id=account_id,
                state=ReportAccessState.NOT_OPTED_IN,
            ).order_by("report")
        ),
        "disapproved": list(
            Ad.objects(
                tenant_id=connection.tenant_id,
                account_id=account_id,
                effective_status="DISAPPROVED",
                deleted_at=None,
            )
            .only("meta_id", "name", "ad_review_feedback", "issues_info")
            .limit(50)
        ),
        "spend": spend,
        "rows": rows,
    }
