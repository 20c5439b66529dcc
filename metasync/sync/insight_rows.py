"""Writing one page of Meta insights rows as ``DailyInsight`` documents (one bulk upsert)."""

from __future__ import annotations

from typing import Any

from metasync.models import AdAccount, DailyInsight, MetaConnection, upsert_page, utcnow
from metasync.sync.context import SyncContext
from metasync.sync.conversions import conversion_types
from metasync.sync.insights_map import map_insight_row

__all__ = ["INSIGHTS_PAGE_SIZE", "PAGES_PER_TASK", "account_of", "write_rows"]

INSIGHTS_PAGE_SIZE = 500  # rows per Graph page
PAGES_PER_TASK = 5  # pages one task reads before handing on (no task nears its time limit)


def account_of(connection: MetaConnection, account_id: str) -> AdAccount | None:
    """The mirrored ad account (its currency and time zone), None before the first sync."""
    account: AdAccount | None = AdAccount.objects(
        tenant_id=connection.tenant_id, meta_id=f"act_{account_id}"
    ).first()
    return account


def write_rows(
    ctx: SyncContext,
    connection: MetaConnection,
    account: AdAccount | None,
    account_id: str,
    level: str,
    items: list[dict[str, Any]],
) -> int:
    """Upsert one page of rows at ``level``; returns how many were written."""
    now = utcnow()
    rows = [
        map_insight_row(
            raw,
            tenant_id=connection.tenant_id,
            account_id=account_id,
            level=level,
            currency=account.currency if account else None,
            conversion_types=conversion_types(ctx, connection.tenant_id),
            fetched_at=now,
        )
        for raw in items
    ]
    rows = [row for row in rows if row["entity_id"] and row["date"]]
    upsert_page(DailyInsight, rows, now)
    return len(rows)
