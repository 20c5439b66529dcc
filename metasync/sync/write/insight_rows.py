"""Writing one page of Meta insights rows as ``DailyInsight`` documents (one bulk upsert under
the account's next write number, :mod:`metasync.models.numbering`), and what an account-level
page saw of each day's conversions (:mod:`metasync.sync.write.arrivals`)."""

from __future__ import annotations

from typing import Any

from metasync.models import (
    AdAccount,
    DailyInsight,
    MetaConnection,
    ReportRow,
    upsert_numbered,
    upsert_page,
    utcnow,
)
from metasync.sync.context import SyncContext
from metasync.sync.conversions import conversion_types
from metasync.sync.shapes.insights_map import map_insight_row
from metasync.sync.shapes.report_rows import map_report_row
from metasync.sync.shapes.targets import ReadTarget
from metasync.sync.write.arrivals import record_arrivals

__all__ = ["daily_rows", "write_insight_page", "write_rows"]


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


def write_insight_page(
    target: ReadTarget,
    ctx: SyncContext,
    connection: MetaConnection,
    account: AdAccount | None,
    account_id: str,
    items: list[dict[str, Any]],
) -> dict[str, int]:
    """Write one page of ``target``'s read for the daily rows and each report under one write
    number (one reservation, a bulk write for the daily rows and one for every report's rows);
    rows written by level or report."""
    written: dict[str, int] = {}
    daily: list[dict[str, Any]] = []
    if target.base:
        daily = daily_rows(ctx, connection, account, account_id, target.level, items)
        written[target.level] = len(daily)
    now = utcnow()
    reports: list[dict[str, Any]] = []
    for report in target.reports:
        rows = [
            map_report_row(
                raw,
                report,
                tenant_id=connection.tenant_id,
                account_id=account_id,
                currency=account.currency if account else None,
                conversion_types=conversion_types(ctx, connection.tenant_id),
                fetched_at=now,
            )
            for raw in items
        ]
        rows = [row for row in rows if row["entity_id"] and row["span"]]
        reports += rows
        written[report.name] = len(rows)
    upsert_numbered([(DailyInsight, daily), (ReportRow, reports)], now)
    record_arrivals(daily, account.timezone_name if account else None, now)
    return written
