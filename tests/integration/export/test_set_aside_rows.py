"""Rows set aside (a value the destination cannot hold, :mod:`metasync.export.values`) that
lie behind the export's mark are sent again once the mirror has them right: a sync that writes
a row again gives it a new write number, and objects are read whole on every export. Each
run names the rows it set aside."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from metasync.config import Settings
from metasync.export import export_tenant
from metasync.export.destinations import schema_for
from metasync.models import Campaign, DailyInsight, ExportRun, ReportRow, upsert_page
from metasync.sync import SyncContext
from tests.integration.export.one_account import TENANT, account_writer, report_row
from tests.integration.export.test_write_order import items, write


@pytest.fixture
def writer(settings: Settings, mongo: str) -> SyncContext:
    return account_writer(settings)


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as con:
        return con.execute(sql.format(schema=schema_for(TENANT)).encode()).fetchall()


def last_run() -> ExportRun:
    run: ExportRun = ExportRun.objects(tenant_id=TENANT).order_by("-started_at").first()
    return run


def test_a_daily_row_set_aside_is_exported_once_a_sync_writes_it_right(
    writer: SyncContext, postgres_url: str
) -> None:
    write(writer, items(["1", "2"], "2026-11-01", "1.00"))
    # a value no sync writes (the document's own validation refuses it): written by hand
    DailyInsight._get_collection().update_one({"entity_id": "2"}, {"$set": {"impressions": "n/a"}})
    first = export_tenant(TENANT, postgres_url)
    named = "; ".join(first.rejected)
    assert "metasync_daily_insights row account_id=101, level=ad, entity_id=2," in named
    assert "basic_ad row ad_id=2," in named and "impressions n/a is not an integer" in named
    assert last_run().rejected == first.rejected  # the operator sees them on the run
    daily = "SELECT entity_id, impressions FROM {schema}.metasync_daily_insights ORDER BY 1"
    assert rows(postgres_url, daily) == [("1", 100)]
    before = DailyInsight.objects.get(entity_id="2").seq
    write(writer, items(["2"], "2026-11-01", "1.00"))  # the next sync reads the day again
    assert DailyInsight.objects.get(entity_id="2").seq > before  # a new write number
    again = export_tenant(TENANT, postgres_url)
    assert again.rejected_count == 0 and last_run().rejected == []
    assert rows(postgres_url, daily) == [("1", 100), ("2", 100)]
    basic = "SELECT ad_id, impressions FROM {schema}.basic_ad ORDER BY 1"
    assert rows(postgres_url, basic) == [("1", 100), ("2", 100)]


def test_a_report_row_set_aside_is_exported_once_a_sync_writes_it_right(
    writer: SyncContext, postgres_url: str
) -> None:
    upsert_page(ReportRow, [report_row("3.00", report="age_gender", impressions=10)])
    ReportRow._get_collection().update_one({}, {"$set": {"impressions": "n/a"}})
    first = export_tenant(TENANT, postgres_url)
    assert first.rejected_count == 1
    assert first.rejected[0].startswith("metasync_report_rows row report=age_gender,")
    before = ReportRow.objects.get().seq
    upsert_page(ReportRow, [report_row("3.00", report="age_gender", impressions=10)])
    assert ReportRow.objects.get().seq > before
    again = export_tenant(TENANT, postgres_url)
    assert again.rejected_count == 0
    report = "SELECT report, impressions FROM {schema}.metasync_report_rows"
    assert rows(postgres_url, report) == [("age_gender", 10)]


def test_an_object_set_aside_is_exported_once_it_is_right_in_the_mirror(
    writer: SyncContext, postgres_url: str
) -> None:
    upsert_page(
        Campaign,
        [{"tenant_id": TENANT, "meta_id": "55", "account_id": "101", "name": "Spring"}],
    )
    Campaign._get_collection().update_one({}, {"$set": {"account_id": "x101"}})
    first = export_tenant(TENANT, postgres_url)
    assert first.rejected_count == 1 and first.rejected[0].startswith("campaign_history row id=55")
    Campaign._get_collection().update_one({}, {"$set": {"account_id": "101"}})  # by hand
    again = export_tenant(TENANT, postgres_url)  # objects are read whole every time
    assert again.rejected_count == 0
    found = rows(postgres_url, "SELECT id, account_id FROM {schema}.campaign_history")
    assert found == [(55, 101)]
