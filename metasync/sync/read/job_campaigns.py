"""The campaigns a report job can be split by: those Meta says have rows in its range, or
those its filter already names."""

from __future__ import annotations

from typing import Any

from metasync.graph import (
    GraphClient,
    MetaAPIError,
    RateLimitError,
    TokenError,
    insights_params,
    read_insights,
)
from metasync.models import Campaign, ReportRun
from metasync.sync.read.insights import INSIGHTS_PAGE_SIZE

__all__ = ["campaign_filter", "campaigns_with_data"]


def campaigns_with_data(client: GraphClient, job: ReportRun, params: dict[str, Any]) -> list[str]:
    """The campaigns Meta says have rows in the job's range (one campaign-level read of ids,
    every status included); the mirror's campaigns when that read fails for a reason other
    than the token or a rate limit (which end or re-schedule the step as usual)."""
    query = insights_params(
        level="campaign",
        fields=("campaign_id",),
        since=params["time_range"]["since"],
        until=params["time_range"]["until"],
        time_increment="all_days",
    )
    try:
        return sorted(
            {
                str(row["campaign_id"])
                for page in read_insights(
                    client,
                    f"act_{job.account_id}",
                    query,
                    account_id=job.account_id,
                    limit=INSIGHTS_PAGE_SIZE,
                )
                for row in page.items
                if row.get("campaign_id")
            }
        )
    except (TokenError, RateLimitError):
        raise
    except MetaAPIError:
        return sorted(
            c.meta_id
            for c in Campaign.objects(tenant_id=job.tenant_id, account_id=job.account_id).only(
                "meta_id"
            )
        )


def campaign_filter(params: dict[str, Any]) -> list[str] | None:
    for rule in params.get("filtering") or []:
        if rule.get("field") == "campaign.id":
            return sorted(str(v) for v in rule.get("value") or [])
    return None
