"""Rows the mirror removes are deleted from the warehouse: the ``placement`` upgrade moves the
old rows to ``placement_device``, and the next export of each destination holds the new rows
and none of the old, in the batch that carries the deletions' mark. A row written again after
it was removed is left alone, whatever order the export meets the two in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from metasync.config import Settings
from metasync.export import export_tenant
from metasync.export.destinations import schema_for
from metasync.models import ExportDeletion, ReportRow, numbering, upsert_page
from metasync.models.deletions import record_removed
from metasync.sync import SyncContext
from metasync.upgrades import split_placement_report
from tests.integration.export.one_account import ACCOUNT, TENANT, account_writer, report_row
from tests.integration.export.test_cloud_warehouses import bigquery_query, snowflake_query

Rows = Callable[[], set[tuple[str, str]]]  # (report, breakdown_key) of the warehouse's rows
DEVICE = {"publisher_platform": "facebook", "impression_device": "ipad"}


@pytest.fixture
def writer(settings: Settings, mongo: str) -> SyncContext:
    return account_writer(settings)


def destination(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Rows]:
    """A destination's URL and a reader of its ``metasync_report_rows``."""
    schema = schema_for(TENANT)
    columns = "report, breakdown_key"
    if kind == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))

        def postgres() -> set[tuple[str, str]]:
            with psycopg.connect(url) as con:
                sql = f"SELECT {columns} FROM {schema}.metasync_report_rows"
                return {tuple(r) for r in con.execute(sql.encode()).fetchall()}

        return url, postgres
    if kind in ("duckdb", "parquet"):
        path = tmp_path / ("w.duckdb" if kind == "duckdb" else "lake")
        url = f"{kind}:///{path}"

        def local() -> set[tuple[str, str]]:
            source = (
                f"{schema}.metasync_report_rows"
                if kind == "duckdb"
                else f"'{path / schema / 'metasync_report_rows.parquet'}'"
            )
            with duckdb.connect(str(path) if kind == "duckdb" else ":memory:") as con:
                return {tuple(r) for r in con.execute(f"SELECT {columns} FROM {source}").fetchall()}

        return url, local
    url = str(request.getfixturevalue(f"{kind}_url"))
    query = (snowflake_query if kind == "snowflake" else bigquery_query)(url, schema)

    def cloud() -> set[tuple[str, str]]:
        return {(str(r[0]), str(r[1])) for r in query("metasync_report_rows", columns)}

    return url, cloud


@pytest.mark.parametrize("kind", ["postgresql", "duckdb", "parquet", "snowflake", "bigquery"])
def test_the_placement_split_deletes_the_old_rows_from_the_warehouse(
    writer: SyncContext,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    kind: str,
) -> None:
    url, exported = destination(kind, request, tmp_path)
    platform = {"publisher_platform": "facebook"}
    upsert_page(
        ReportRow,
        [
            report_row("3.00", breakdowns=DEVICE),  # the old definition's row
            report_row("5.00", breakdowns=platform),  # a row of today's placement
        ],
    )
    export_tenant(TENANT, url)
    old = ("placement", "impression_device=ipad|publisher_platform=facebook")
    assert old in exported()
    assert split_placement_report() == 1
    result = export_tenant(TENANT, url)
    assert exported() == {
        ("placement_device", old[1]),
        ("placement", "publisher_platform=facebook"),
    }
    assert result.deleted["metasync_report_rows"] == 1
    assert export_tenant(TENANT, url).read["deleted"] == 0  # once


def test_a_row_written_again_after_it_was_removed_stays(
    writer: SyncContext, postgres_url: str
) -> None:
    url = postgres_url
    upsert_page(ReportRow, [report_row("3.00")])
    export_tenant(TENANT, url)
    row = ReportRow._get_collection().find_one({})
    assert row is not None

    def remove(seq: int) -> None:
        record_removed(TENANT, ACCOUNT, "reports", [row], seq)
        ReportRow._get_collection().delete_one({"_id": row["_id"]})

    numbering.under_number(TENANT, ACCOUNT, remove)
    upsert_page(ReportRow, [report_row("4.00")])  # the same key, written again
    result = export_tenant(TENANT, url)
    assert result.read["deleted"] == 1 and result.deleted["metasync_report_rows"] == 0
    with psycopg.connect(url) as con:
        sql = f"SELECT report, spend FROM {schema_for(TENANT)}.metasync_report_rows"
        assert [(r[0], str(r[1])) for r in con.execute(sql.encode()).fetchall()] == [
            ("placement", "4.00")
        ]


def test_a_deletion_still_being_recorded_waits_for_its_number(
    writer: SyncContext, postgres_url: str
) -> None:
    """The removal and its record are one write under one number: an export while it is in
    flight deletes nothing, the one after deletes the row."""
    upsert_page(ReportRow, [report_row("3.00")])
    export_tenant(TENANT, postgres_url)
    row = ReportRow._get_collection().find_one({})
    assert row is not None
    seq = numbering.reserve(TENANT, ACCOUNT)
    record_removed(TENANT, ACCOUNT, "reports", [row], seq)
    first: Any = export_tenant(TENANT, postgres_url)
    ReportRow._get_collection().delete_one({"_id": row["_id"]})
    numbering.release(TENANT, ACCOUNT, seq)
    assert first.read["deleted"] == 0
    assert export_tenant(TENANT, postgres_url).deleted["metasync_report_rows"] == 1
    assert ExportDeletion.objects(tenant_id=TENANT).count() == 1
