"""Writing one page of Meta insights rows as ``DailyInsight`` documents (one bulk upsert under
the account's next write number, :mod:`metasync.models.numbering`), and what an account-level
page saw of each day's conversions (:mod:`metasync.sync.arrivals`)."""

from __future__ import annotations

from typing import Any

from metasync.models import AdAccount, DailyInsight, MetaConnection, upsert_page, utcnow
from metasync.sync.arrivals import record_arrivals
from metasync.sync.context import SyncContext
from metasync.sync.conversions import conversion_types
from metasync.sync.insights_map import map_insight_row

__all__ = ["INSIGHTS_PAGE_SIZE", "PAGES_PER_TASK", "account_of", "daily_rows", "write_rows"]

INSIGHTS_PAGE_SIZE = 500  # rows per Graph page
PAGES_PER_TASK = 5  # pages one task reads before handing on (no task nears its time limit)


def account_of(connection: MetaConnection, account_id: str) -> AdAccount | None:
    """The mirrored ad account (its currency and time zone), None before the first sync."""
    account: AdAccount | None = AdAccount.objects(
        tenant_id=connection.tenant_id, meta_id=f"act_{account_id}"
    ).first()
    return account


def daily_rows(
    ctx: SyncContext,
    connection: MetaConnection,
    account: AdAccount | None,
    account_id: str,
    level: str,
    items: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One page of Meta's rows at ``level`` as ``DailyInsight`` rows (those with an entity and
    a day). ``fetched_at`` is this worker's clock, kept for people to read: nothing orders by it."""
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
    return [row for row in rows if row["entity_id"] and row["date"]]


def write_rows(
    ctx: SyncContext,
    connection: MetaConnection,
    account: AdAccount | None,
    account_id: str,
    level: str,
    items: list[dict[str, Any]],
) -> int:
    """Upsert one page of rows at ``level``; returns how many were written."""
    rows = daily_rows(ctx, connection, account, account_id, level, items)
    upsert_page(DailyInsight, rows)
    record_arrivals(rows, account.timezone_name if account else None)
    return len(rows)
