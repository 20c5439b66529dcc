"""Two tenants' mirrors for the REST API's tests: each with a connection, an ad account, a
campaign, an ad set, an ad, daily rows, a report of its own with rows by country (or age), a
recommendation and a finished sync run; the ids of
the second tenant are what the first one's key must never reach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from metasync.health.records import refresh_health
from metasync.models import (
    Ad,
    AdAccount,
    AdSet,
    Campaign,
    DailyInsight,
    Lead,
    LeadForm,
    MetaConnection,
    Recommendation,
    ReportRow,
    SyncRun,
    breakdown_key,
    utcnow,
)
from metasync.reports.store import set_enabled

__all__ = ["TenantMirror", "build_tenant"]


@dataclass(frozen=True)
class TenantMirror:
    tenant_id: str
    connection_id: str
    account_id: str
    campaign_id: str
    adset_id: str
    ad_id: str
    recommendation_id: str
    request_id: str
    lead_id: str = ""


def build_tenant(tenant: str, number: int, days: int = 5) -> TenantMirror:
    """A tenant whose ids all end in ``number`` (so two tenants never share one)."""
    account = f"10{number}"
    connection = MetaConnection(
        tenant_id=tenant, meta_user_id=f"u{number}", name=f"{tenant} main",
        ad_account_ids=[account], token_expires_at=utcnow() + timedelta(days=3),
    ).save()  # fmt: skip
    AdAccount(
        tenant_id=tenant, meta_id=f"act_{account}", account_id=account, name=f"{tenant} shop",
        currency="USD", timezone_name="UTC",
    ).save()  # fmt: skip
    ids = {kind: f"{kind[0]}{number}" for kind in ("campaign", "adset", "ad")}
    Campaign(tenant_id=tenant, meta_id=ids["campaign"], account_id=account, name="Sale",
             status="ACTIVE", effective_status="ACTIVE").save()  # fmt: skip
    AdSet(tenant_id=tenant, meta_id=ids["adset"], account_id=account,
          campaign_id=ids["campaign"], status="ACTIVE", effective_status="ACTIVE",
          daily_budget=Decimal("25.00")).save()  # fmt: skip
    Ad(tenant_id=tenant, meta_id=ids["ad"], account_id=account, campaign_id=ids["campaign"],
       adset_id=ids["adset"], status="PAUSED", effective_status="PAUSED").save()  # fmt: skip
    yesterday = date.today() - timedelta(days=1)
    for back in range(days):
        for level, entity in (("account", account), ("ad", ids["ad"])):
            DailyInsight(
                tenant_id=tenant, account_id=account, level=level, entity_id=entity,
                date=(yesterday - timedelta(days=back)).isoformat(), impressions=1000 + back,
                clicks=10, spend=Decimal("12.34"), currency="USD",
            ).save()  # fmt: skip
    report = "country" if number == 1 else "age_gender"  # each tenant has a report of its own
    set_enabled(tenant, report, True)
    for back in range(days):
        day = (yesterday - timedelta(days=back)).isoformat()
        for value in ("DE", "US"):
            breakdowns = {"country": value} if report == "country" else {"age": value}
            ReportRow(
                tenant_id=tenant, account_id=account, report=report, level="ad",
                entity_id=ids["ad"], span=day, date_start=day, date_stop=day,
                breakdowns=breakdowns, breakdown_key=breakdown_key(breakdowns),
                impressions=100, spend=Decimal("1.50"),
                conversions_by_window={"7d_click": Decimal(2)},
            ).save()  # fmt: skip
    rec = Recommendation(
        tenant_id=tenant, key=f"k{number}", account_id=account, level="ad", entity_id=ids["ad"],
        rule="cost_per_conversion", kind="cost_per_conversion", action="pause",
        change={"status": "PAUSED"}, evidence={"spend": 100},
    ).save()  # fmt: skip
    request_id = f"request-{number}"
    SyncRun(connection_id=str(connection.pk), tenant_id=tenant, kind="entities",
            status="succeeded", request_id=request_id, entities={"ads": 1}).save()  # fmt: skip
    lead_id = _lead(tenant, number, str(connection.pk), ids)
    refresh_health(tenant)  # as the run that wrote this mirror would have on closing
    return TenantMirror(
        tenant, str(connection.pk), account, ids["campaign"], ids["adset"], ids["ad"],
        str(rec.pk), request_id, lead_id,
    )  # fmt: skip


def _lead(tenant: str, number: int, connection_id: str, ids: dict[str, str]) -> str:
    """A lead form of the tenant's page and one lead of its ad (no answers stored: the lead
    tests seal their own); returns the lead's id."""
    page, form, lead_id = f"55{number}", f"77{number}", f"99{number}"
    LeadForm(
        tenant_id=tenant,
        connection_id=connection_id,
        page_id=page,
        form_id=form,
        name="Quote",
        status="ACTIVE",
    ).save()
    Lead(
        tenant_id=tenant,
        connection_id=connection_id,
        page_id=page,
        form_id=form,
        lead_id=lead_id,
        ad_id=ids["ad"],
        adset_id=ids["adset"],
        campaign_id=ids["campaign"],
        created_time=utcnow(),
        account_id=f"page:{page}",
    ).save()
    return lead_id
