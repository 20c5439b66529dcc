"""What ``/api/v1`` answers, as pydantic models (so the OpenAPI schema says it exactly).

Money and ratios are decimal strings in the account's currency, major units (``"53.40"``), as
the mirror holds them: never floats. Times are ISO 8601 in UTC; days are the account's own.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

__all__ = [
    "AccountOut",
    "EntityOut",
    "HealthOut",
    "InsightOut",
    "MetricsOut",
    "Page",
    "Problem",
    "RecommendationOut",
    "ReportRowOut",
    "SyncAccepted",
    "SyncRequest",
    "SyncStatus",
]

T = TypeVar("T")


class Problem(BaseModel):
    """An error: ``detail`` names the problem (and the parameter, for a bad one)."""

    detail: str


class AccountOut(BaseModel):
    id: str = Field(description="numeric ad account id, without act_")
    name: str | None = None
    currency: str | None = None
    timezone_name: str | None = None
    account_status: int | None = None


class EntityOut(BaseModel):
    """A campaign, ad set or ad as mirrored now (``deleted_at``: when it left Meta)."""

    id: str
    account_id: str
    name: str | None = None
    status: str | None = None
    effective_status: str | None = None
    campaign_id: str | None = None
    adset_id: str | None = None
    daily_budget: str | None = None
    lifetime_budget: str | None = None
    updated_time: datetime | None = None
    deleted_at: datetime | None = None
    issues_info: list[dict[str, Any]] = Field(default_factory=list)
    smart_promotion_type: str | None = Field(None, description="campaigns (v23+)")
    advantage_state_info: dict[str, Any] | None = Field(
        None, description="campaigns: which Advantage+ automations are on (v23+, read-only)"
    )
    is_adset_budget_sharing_enabled: bool | None = Field(None, description="campaigns (v24+)")
    targeting_automation: dict[str, Any] | None = Field(
        None, description="ad sets: Advantage+ audience (v23+)"
    )
    placement_soft_opt_out: dict[str, Any] | None = Field(None, description="ad sets (v24+)")
    regional_regulated_categories: list[str] | None = Field(None, description="ad sets")
    ad_review_feedback: dict[str, Any] | None = Field(
        None, description="ads: why Meta disapproved it ({global: {policy: reason}})"
    )


class MetricsOut(BaseModel):
    """The metrics every insights row has (daily rows and report rows alike)."""

    account_id: str
    level: str
    entity_id: str
    breakdowns: dict[str, Any] = Field(default_factory=dict)
    impressions: int | None = None
    clicks: int | None = None
    reach: int | None = None
    spend: str | None = None
    conversions: str | None = None
    revenue: str | None = None
    frequency: str | None = None
    ctr: str | None = None
    cpc: str | None = None
    cpm: str | None = None
    currency: str | None = None
    # the tenant's reporting currency (when it has one) at the day's reference rate
    reporting_currency: str | None = None
    fx_rate: str | None = None
    spend_reporting: str | None = None
    revenue_reporting: str | None = None
    reporting_note: str | None = Field(
        None,
        description="why spend_reporting and revenue_reporting are null although the tenant "
        "has a reporting currency (no usable reference rate for the day)",
    )


class InsightOut(MetricsOut):
    """One entity's metrics on one day (the account's day)."""

    date: str
    video: dict[str, str] = Field(
        default_factory=dict,
        description="Meta's video metrics of the day, each its list's values summed "
        "(video_play_actions, video_thruplay_watched_actions, video_p25_watched_actions .. "
        "video_p100_watched_actions: plays; video_avg_time_watched_actions: seconds per play); "
        "empty without video plays",
    )


class ReportRowOut(MetricsOut):
    """One row of a report: an entity's metrics for a period and breakdown values."""

    date_start: str | None = None
    date_stop: str | None = None
    attribution_windows: str
    conversions_by_window: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)


class Page(BaseModel, Generic[T]):
    """A page of results; ``next_cursor`` fetches the next (None: this was the last)."""

    data: list[T]
    next_cursor: str | None = None


class HealthOut(BaseModel):
    """Freshness and health of one ad account of one connection (see metasync.api.health)."""

    connection_id: str
    connection_name: str
    connection_status: str
    account_id: str
    name: str
    state: str
    newest_day: str | None
    lag_seconds: float | None
    last_entity_sync_at: datetime | None
    last_performance_sync_at: datetime | None
    last_outcome: str | None
    last_error: str | None
    token_expires_at: datetime | None
    data_access_expires_at: datetime | None
    throttled_until: datetime | None
    flags: list[str]
    not_opted_in: list[str] = Field(
        default_factory=list,
        description="reports Meta withholds from this account until it opts in to their "
        "breakdowns (device, audience-hour, frequency; since 2026-08-03)",
    )


class RecommendationOut(BaseModel):
    id: str
    account_id: str
    level: str
    entity_id: str
    rule: str
    kind: str
    action: str
    change: dict[str, Any]
    evidence: dict[str, Any]
    expected: str | None = None
    state: str
    proposed_at: datetime | None = None
    decided_by: str | None = None
    error: str | None = None
    failure: dict[str, Any] | None = Field(
        None, description="Meta's refusal of a failed write: type, message, code, fbtrace_id"
    )
    restore: list[dict[str, Any]] = Field(
        default_factory=list,
        description="a take-back Meta refused (state restore_refused), per entity: before, "
        "applied, meta (what Meta holds now), not_restored, error",
    )


class SyncRequest(BaseModel):
    """A sync of one connection (all its accounts): entities, or performance over a range."""

    connection_id: str
    kind: Literal["entities", "performance"] = "entities"
    full: bool = False
    since: date | None = Field(None, description="first day (performance), the account's")
    until: date | None = Field(None, description="last day, inclusive")


class SyncAccepted(BaseModel):
    request_id: str = Field(description="follow it at GET /api/v1/syncs/{request_id}")
    status: Literal["queued"] = "queued"


class SyncStatus(BaseModel):
    request_id: str
    status: str = Field(description="queued until a worker opens the run, then the run's status")
    run_id: str | None = None
    kind: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    entities: dict[str, Any] = Field(default_factory=dict)
    rows: dict[str, Any] = Field(default_factory=dict)
    errors: list[dict[str, Any]] = Field(default_factory=list)
