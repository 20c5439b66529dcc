"""A mirror value the export cannot read as a number (text in a count, a budget or a cost, a
fraction of an impression) sets its one row aside, named with the column and the kind of
value, never the value; the rows beside it are exported and the run succeeds. No sync writes
such values (the documents' own validation refuses them): they are written here by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
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


def the_run() -> ExportRun:
    run: ExportRun = ExportRun.objects(tenant_id=TENANT).get()
    return run


@pytest.mark.parametrize(("place", "bad"), [("country", "n/a"), ("region", "1.5")])
def test_a_report_row_whose_impressions_are_not_a_count_sets_its_place_aside(
    writer: SyncContext, postgres_url: str, place: str, bad: str
) -> None:
    good = {"US" if place == "country" else "Texas": 10, "CA" if place == "country" else "Ohio": 7}
    broken = "FR" if place == "country" else "Bavaria"
    upsert_page(
        ReportRow,
        [
            report_row("2.00", report=place, breakdowns={place: where}, impressions=count)
            for where, count in {**good, broken: 5}.items()
        ],
    )
    ReportRow._get_collection().update_one(
        {f"breakdowns.{place}": broken}, {"$set": {"impressions": bad}}
    )
    result = export_tenant(TENANT, postgres_url)  # set aside and named: not a failure
    aside = f"demographics_{place} row account_id=101, date=2026-11-01, {place}={broken} "
    kind = "text" if bad == "n/a" else "fraction"
    mine = [r for r in result.rejected if r.startswith(aside)]
    assert mine == [f"{aside}not written: impressions {kind} is not an integer (bigint)"]
    found = rows(postgres_url, f"SELECT {place}, impressions FROM {{schema}}.demographics_{place}")
    assert sorted(found) == sorted(good.items())
    run = the_run()
    assert (run.status, run.error) == ("succeeded", None)
    assert run.rejected == result.rejected and any(r.startswith(aside) for r in run.rejected)


def test_a_campaign_whose_budget_is_not_a_number_is_set_aside_and_the_rest_exported(
    writer: SyncContext, tmp_path: Path
) -> None:
    upsert_page(
        Campaign,
        [
            {"tenant_id": TENANT, "meta_id": meta_id, "account_id": "101", "daily_budget": "12.50"}
            for meta_id in ("55", "56", "57")
        ],
    )
    Campaign._get_collection().update_one({"meta_id": "56"}, {"$set": {"daily_budget": "lots"}})
    Campaign._get_collection().update_one(
        {"meta_id": "57"}, {"$set": {"lifetime_budget": float("nan")}}
    )
    url = f"duckdb:///{tmp_path}/w.duckdb"
    result = export_tenant(TENANT, url)
    assert result.rejected_count == 2
    named = "; ".join(result.rejected)
    assert "campaign_history row id=56," in named and "daily_budget text is not an integer" in named
    assert (
        "campaign_history row id=57," in named and "lifetime_budget NaN is not an integer" in named
    )
    assert "lots" not in named
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        found = con.execute(
            f"SELECT id, daily_budget FROM {schema_for(TENANT)}.campaign_history"
        ).fetchall()
        accounts = con.execute(
            f"SELECT count(*) FROM {schema_for(TENANT)}.account_history"
        ).fetchone()
    assert found == [(55, 1250)] and accounts == (1,)  # the tenant's other objects are there
    run = the_run()
    assert (run.status, run.rejected_count) == ("succeeded", 2)


def test_a_daily_row_with_a_cost_or_an_action_value_that_is_not_a_number_sets_one_row_aside(
    writer: SyncContext, postgres_url: str
) -> None:
    write(writer, items(["1", "2", "3"], "2026-11-01", "1.00"))
    daily = DailyInsight._get_collection()
    daily.update_one({"entity_id": "2"}, {"$set": {"cpc": "free"}})
    daily.update_one({"entity_id": "3"}, {"$set": {"ctr": ["high"]}})
    actions = [
        {"action_type": "link_click", "value": "many", "1d_click": "2"},
        {"action_type": "purchase", "value": "2"},
    ]
    daily.update_one({"entity_id": "1"}, {"$set": {"actions": actions}})
    result = export_tenant(TENANT, postgres_url)
    named = "; ".join(result.rejected)
    assert "basic_ad row ad_id=2, date=2026-11-01 not written: cpc text is not a number" in named
    assert "basic_ad row ad_id=3, date=2026-11-01 not written: ctr list is not a number" in named
    clicks = "basic_ad_actions row ad_id=1, date=2026-11-01, action_type=link_click not written"
    assert f"{clicks}: value text is not a number (double)" in named
    assert result.rejected_count == 3 and "free" not in named and "many" not in named
    basic = "SELECT ad_id, impressions FROM {schema}.basic_ad ORDER BY 1"
    assert rows(postgres_url, basic) == [("1", 100)]
    acted = "SELECT ad_id, action_type, value FROM {schema}.basic_ad_actions"
    assert rows(postgres_url, acted) == [("1", "purchase", 2.0)]
    own = "SELECT count(*) FROM {schema}.metasync_daily_insights"
    assert rows(postgres_url, own) == [(3,)]  # metasync's own rows keep what they can
    assert the_run().status == "succeeded"


def test_a_daily_row_whose_spend_is_not_a_number_sets_its_own_table_row_aside_too(
    writer: SyncContext, postgres_url: str
) -> None:
    write(writer, items(["1", "2", "3"], "2026-11-01", "1.00"))
    daily = DailyInsight._get_collection()
    daily.update_one({"entity_id": "2"}, {"$set": {"spend": "lots"}})
    daily.update_one({"entity_id": "3"}, {"$set": {"frequency": "often"}})
    result = export_tenant(TENANT, postgres_url)
    named = "; ".join(result.rejected)
    assert "metasync_daily_insights row" in named and "spend text is not a number" in named
    assert "frequency text is not a number" in named
    assert "lots" not in named and "often" not in named
    own = "SELECT entity_id FROM {schema}.metasync_daily_insights ORDER BY 1"
    assert rows(postgres_url, own) == [("1",)]
    assert the_run().status == "succeeded"


@pytest.mark.parametrize("scheme", ["duckdb", "postgresql"])
def test_a_daily_row_whose_date_is_no_day_sets_its_one_row_aside(
    writer: SyncContext, postgres_url: str, tmp_path: Path, scheme: str
) -> None:
    write(writer, items(["1", "2", "3"], "2026-11-01", "1.00"))
    DailyInsight._get_collection().update_one({"entity_id": "2"}, {"$set": {"date": "2026-11-31"}})
    url = postgres_url if scheme == "postgresql" else f"duckdb:///{tmp_path}/w.duckdb"
    result = export_tenant(TENANT, url)  # set aside and named: not a failure
    named = "; ".join(result.rejected)
    assert "basic_ad row ad_id=2, date=text not written: date text is not a date (date)" in named
    assert "metasync_daily_insights row" in named and "2026-11-31" not in named
    schema = schema_for(TENANT)
    basic = f"SELECT ad_id, date::text FROM {schema}.basic_ad ORDER BY 1"
    if scheme == "postgresql":
        found = rows(postgres_url, basic)
    else:
        with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
            found = con.execute(basic).fetchall()
    assert found == [("1", "2026-11-01"), ("3", "2026-11-01")]
    assert the_run().status == "succeeded"
