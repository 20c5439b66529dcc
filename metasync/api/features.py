"""``/api/v1/accounts/{account_id}/features``: an ad account's Ads Insights features as Meta's
Feature Settings API stated them at the last daily read (Meta's page "Feature Settings API",
2026-08-07): which gated breakdowns Meta answers for it (``enabled``), will answer within 24
hours (``pending``), or withholds (``not_enabled``). Read-only: enabling one is an operator's
act (``metasync reports enable-feature`` or the console)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from metasync.api.common import ApiProblem, Auth
from metasync.models import AccountFeatures

__all__ = ["AccountFeaturesOut", "FeatureOut", "add_feature_routes"]


class FeatureOut(BaseModel):
    name: str = Field(description="comscore, frequency_value, impression_device, ...")
    status: str = Field(description="enabled, pending (within 24 hours) or not_enabled")
    effective_at: datetime | None = Field(
        None, description="Meta's insights_effective_date: from when Meta answers it (UTC)"
    )


class AccountFeaturesOut(BaseModel):
    account_id: str
    read_at: datetime | None = Field(description="the last read Meta answered (UTC)")
    error: str | None = Field(
        description="why the last read failed; metasync then infers opt-in states from "
        "empty answers"
    )
    features: list[FeatureOut]


def add_feature_routes(router: APIRouter) -> None:
    @router.get("/accounts/{account_id}/features", response_model=AccountFeaturesOut)
    def account_features(
        who: Auth, account_id: Annotated[str, Path(pattern=r"^\d{1,20}$")]
    ) -> AccountFeaturesOut:
        """One ad account's Ads Insights features, as Meta's Feature Settings API states them."""
        found = AccountFeatures.objects(tenant_id=who.tenant_id, account_id=account_id).first()
        if found is None:
            raise ApiProblem(404, f"account_id: no features read for ad account {account_id}")
        return AccountFeaturesOut(
            account_id=account_id,
            read_at=found.read_at,
            error=found.error,
            features=[
                FeatureOut(
                    name=name, status=entry["status"], effective_at=entry.get("effective_at")
                )
                for name, entry in sorted((found.features or {}).items())
            ],
        )
