"""A tenant with one ad account whose rows the tests write page by page, as a sync worker's
subtasks would (shared by the export tests of write order, numbering and deletions)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from metasync.config import Settings
from metasync.models import AdAccount, breakdown_key, upsert_page
from metasync.sync import SyncContext

TENANT = "acme"
ACCOUNT = "101"


def account_writer(settings: Settings, tenant: str = TENANT, account: str = ACCOUNT) -> SyncContext:
    """What a sync worker writes with, and the tenant's ad account in the mirror."""
    upsert_page(
        AdAccount,
        [
            {
                "tenant_id": tenant,
                "meta_id": f"act_{account}",
                "account_id": account,
                "name": "Acme",
                "currency": "EUR",
            }
        ],
    )
    return SyncContext.from_settings(settings)


def report_row(spend: str, report: str = "placement", **fields: Any) -> dict[str, Any]:
    """An ad-level report row of the tenant's account for 2026-11-01."""
    breakdowns = fields.pop("breakdowns", {"publisher_platform": "facebook"})
    return {
        "tenant_id": TENANT,
        "account_id": ACCOUNT,
        "report": report,
        "level": "ad",
        "entity_id": "9",
        "span": "2026-11-01",
        "breakdowns": breakdowns,
        "breakdown_key": breakdown_key(breakdowns),
        "attribution_key": "default",
        "spend": Decimal(spend),
        **fields,
    }
