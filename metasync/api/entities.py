"""``/api/v1/campaigns``, ``/adsets``, ``/ads``: current state, by id, in pages.

Each kind takes the filters it has (an ad set has a campaign, an ad also an ad set), declared
as a query model so the OpenAPI schema says exactly what each accepts; anything else is a 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from mongoengine import Document
from pydantic import BaseModel, ConfigDict, Field

from metasync.api.common import ApiProblem, Auth, decode_cursor, encode_cursor, money
from metasync.api.schemas import EntityOut, Page
from metasync.models import Ad, AdSet, Campaign

__all__ = ["add_entity_routes"]


class CampaignFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str | None = Field(None, pattern=r"^\d{1,20}$", description="numeric id")
    effective_status: str | None = Field(None, description="ACTIVE, PAUSED, ARCHIVED, ...")
    include_deleted: bool = Field(False, description="also objects that left Meta")
    limit: int = Field(100, ge=1, le=500, description="items per page")
    cursor: str | None = Field(None, description="next_cursor of the previous page")


class AdSetFilters(CampaignFilters):
    campaign_id: str | None = None


class AdFilters(AdSetFilters):
    adset_id: str | None = None


# the v23-v25 object fields, on the kinds that carry them (the others answer null)
OBJECT_MODEL_FIELDS = (
    "smart_promotion_type",
    "advantage_state_info",
    "is_adset_budget_sharing_enabled",
    "targeting_automation",
    "placement_soft_opt_out",
    "regional_regulated_categories",
    "ad_review_feedback",
)


def _given(value: Any) -> Any:
    """An empty dict or list (a field Meta did not send) as null; False stays False."""
    return None if value in ({}, [], "") else value


def _entity(doc: Any) -> EntityOut:
    return EntityOut(
        id=doc.meta_id,
        account_id=doc.account_id,
        name=doc.name,
        status=doc.status,
        effective_status=doc.effective_status,
        campaign_id=getattr(doc, "campaign_id", None),
        adset_id=getattr(doc, "adset_id", None),
        daily_budget=money(getattr(doc, "daily_budget", None)),
        lifetime_budget=money(getattr(doc, "lifetime_budget", None)),
        updated_time=doc.updated_time,
        deleted_at=doc.deleted_at,
        issues_info=list(doc.issues_info or []),
        **{name: _given(getattr(doc, name, None)) for name in OBJECT_MODEL_FIELDS},
    )


def _page(model: type[Document], tenant_id: str, filters: CampaignFilters) -> Page[EntityOut]:
    given = filters.model_dump(exclude={"include_deleted", "limit", "cursor"}, exclude_none=True)
    query = model.objects(tenant_id=tenant_id, **given)
    if not filters.include_deleted:
        query = query.filter(deleted_at=None)
    after = decode_cursor(filters.cursor, 1)
    if after:
        query = query.filter(meta_id__gt=after[0])
    limit = filters.limit
    found = list(query.order_by("meta_id").limit(limit + 1))
    more = encode_cursor([found[limit - 1].meta_id]) if len(found) > limit else None
    return Page[EntityOut](data=[_entity(d) for d in found[:limit]], next_cursor=more)


def _one(model: type[Document], tenant_id: str, kind: str, entity_id: str) -> EntityOut:
    found = model.objects(tenant_id=tenant_id, meta_id=entity_id).first()
    if found is None:
        raise ApiProblem(404, f"entity_id: no {kind} {entity_id} of this tenant")
    return _entity(found)


def add_entity_routes(router: APIRouter) -> None:
    """Register the list and by-id routes of campaigns, ad sets and ads on ``router``."""

    @router.get("/campaigns", response_model=Page[EntityOut])
    def campaigns(who: Auth, filters: Annotated[CampaignFilters, Query()]) -> Page[EntityOut]:
        """The tenant's campaigns with their current state, by id."""
        return _page(Campaign, who.tenant_id, filters)

    @router.get("/adsets", response_model=Page[EntityOut])
    def adsets(who: Auth, filters: Annotated[AdSetFilters, Query()]) -> Page[EntityOut]:
        """The tenant's ad sets with their current state, by id."""
        return _page(AdSet, who.tenant_id, filters)

    @router.get("/ads", response_model=Page[EntityOut])
    def ads(who: Auth, filters: Annotated[AdFilters, Query()]) -> Page[EntityOut]:
        """The tenant's ads with their current state, by id."""
        return _page(Ad, who.tenant_id, filters)

    @router.get("/campaigns/{entity_id}", response_model=EntityOut)
    def campaign(who: Auth, entity_id: str) -> EntityOut:
        """One campaign (a deleted one too, with ``deleted_at``)."""
        return _one(Campaign, who.tenant_id, "campaign", entity_id)

    @router.get("/adsets/{entity_id}", response_model=EntityOut)
    def adset(who: Auth, entity_id: str) -> EntityOut:
        """One ad set (a deleted one too, with ``deleted_at``)."""
        return _one(AdSet, who.tenant_id, "ad set", entity_id)

    @router.get("/ads/{entity_id}", response_model=EntityOut)
    def ad(who: Auth, entity_id: str) -> EntityOut:
        """One ad (a deleted one too, with ``deleted_at``)."""
        return _one(Ad, who.tenant_id, "ad", entity_id)
