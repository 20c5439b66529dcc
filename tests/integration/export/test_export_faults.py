"""An export killed mid-way resumes where it stopped; bad destinations and rates files get
errors that name them, are recorded, and never show a password."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from metasync.export import ExportBusy, ExportError, export_tenant
from metasync.export.destinations import DestinationError, schema_for
from metasync.export.sql import MARKS
from metasync.models import ExportRun, MetaConnection

TABLES = (
    "basic_ad",
    "basic_ad_actions",
    "metasync_report_rows",
    "demographics_region",
    "ad_history",
)


def contents(url: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows without the sync stamps (which differ between two exports)."""
    out = {}
    with psycopg.connect(url) as con:
        for table in TABLES:
            columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                    "AND table_name = %s AND column_name NOT IN ('_fivetran_synced', "
                    "'fetched_at') ORDER BY ordinal_position",
                    (schema, table),
                )
            ]
            names = ", ".join(columns)
            out[table] = con.execute(
                f"SELECT {names} FROM {schema}.{table} ORDER BY {names}".encode()
            ).fetchall()
    return out


def _marks(url: str, schema: str) -> int:
    with psycopg.connect(url) as con:
        try:
            return int(con.execute(f"SELECT count(*) FROM {schema}.{MARKS}".encode()).fetchone()[0])  # type: ignore[index]
        except psycopg.errors.UndefinedTable:
            return 0


@pytest.mark.slow
def test_an_export_killed_mid_way_resumes_without_a_duplicate(
    synced_first: list[MetaConnection], sync_env: dict[str, str], postgres_url: str
) -> None:
    tenant = synced_first[0].tenant_id
    schema = schema_for(tenant)
    env = {**os.environ, **sync_env, "EXPORT_LEASE_SECONDS": "10"}
    command = [sys.executable, "-m", "metasync", "export", "run", "--tenant", tenant,
               "--to", postgres_url, "--batch-rows", "100"]  # fmt: skip
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as process:
        deadline = time.monotonic() + 120
        while _marks(postgres_url, schema) == 0:  # its first batch of daily rows committed
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.communicate()
    killed = ExportRun.objects(tenant_id=tenant).get()
    assert killed.status == "running"  # it died mid-way, not after finishing
    partial = contents(postgres_url, schema)

    with pytest.raises(ExportBusy) as busy:  # the dead export's lease holds for a while
        export_tenant(tenant, postgres_url, batch_rows=100, lease_seconds=10)
    assert busy.value.retry_after <= 11
    time.sleep(busy.value.retry_after + 0.5)  # then it runs out and the next export takes over
    result = export_tenant(tenant, postgres_url, batch_rows=100, lease_seconds=10)
    resumed = contents(postgres_url, schema)
    assert result.read["daily"] < sum(1 for _ in resumed["basic_ad"]) * 3  # not from scratch
    assert len(partial["basic_ad"]) < len(resumed["basic_ad"])

    export_tenant(tenant, postgres_url, schema="clean_export")  # one export, never killed
    assert resumed == contents(postgres_url, "clean_export")  # same rows, none twice
    killed.reload()
    assert killed.status == "failed" and "interrupted" in (killed.error or "")


def test_a_destination_that_fails_is_recorded_without_its_password(
    synced_first: list[MetaConnection],
) -> None:
    tenant = synced_first[0].tenant_id
    url = "postgresql://metasync:s3cret-pass@127.0.0.1:1/warehouse"
    with pytest.raises(ExportError) as failure:
        export_tenant(tenant, url)
    assert "127.0.0.1:1" in str(failure.value) and "s3cret-pass" not in str(failure.value)
    run = ExportRun.objects(tenant_id=tenant).get()
    assert run.status == "failed" and "s3cret-pass" not in (run.error or "")
    assert run.destination == "postgresql://metasync:***@127.0.0.1:1/warehouse"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("mysql://root@localhost/db", "unknown destination"),
        ("redshift://cluster/db", "redshift is not a metasync destination yet"),
        ("bigquery://project/US?password=x", "bigquery:// takes only the options secret, endpoint"),
        ("duckdb:///", "names no path"),
    ],
)
def test_a_destination_metasync_cannot_use_is_refused_by_name(
    mongo: str, url: str, named: str
) -> None:
    with pytest.raises(DestinationError, match=named):
        export_tenant("tenant-x", url)


def test_a_parquet_destination_writes_one_file_per_changed_table(
    synced_first: list[MetaConnection], tmp_path: Path
) -> None:
    tenant = synced_first[0].tenant_id
    export_tenant(tenant, f"parquet:///{tmp_path}/lake")
    folder = tmp_path / "lake" / schema_for(tenant)
    files = {p.name for p in folder.glob("*.parquet")}
    assert {"basic_ad.parquet", "ad_history.parquet", "url_tag.parquet"} <= files
    assert not list(folder.glob(".*partial"))
    rows = duckdb.sql(f"SELECT count(*) FROM '{folder}/basic_ad.parquet'").fetchone()
    assert rows is not None and rows[0] > 0
    before = (folder / "basic_ad.parquet").stat().st_mtime_ns
    export_tenant(tenant, f"parquet:///{tmp_path}/lake")  # nothing changed: no file rewritten
    assert (folder / "basic_ad.parquet").stat().st_mtime_ns == before


def test_an_export_that_keeps_failing_shows_on_metrics(
    ctx: Any, synced: list[MetaConnection], sync_env: dict[str, str], redis_client: Any,
    postgres_url: str,
) -> None:  # fmt: skip
    from fastapi.testclient import TestClient

    from metasync.config import load_settings
    from metasync.export.targets import export_stored, set_target
    from metasync.webhooks.app import create_app

    failing, working = synced[0].tenant_id, synced[1].tenant_id
    set_target(ctx.cipher, failing, "postgresql://metasync:pw@127.0.0.1:1/warehouse")
    set_target(ctx.cipher, working, postgres_url)
    with pytest.raises(ExportError):
        export_stored(ctx.cipher, ctx.settings, failing)
    assert export_stored(ctx.cipher, ctx.settings, working) is not None
    app = create_app(
        load_settings({**sync_env, "META_APP_VERIFY_TOKEN": "v", "METRICS_PUBLIC": "true"}),
        lambda c, k: None, redis_client, connect_db=False,
    )  # fmt: skip
    with TestClient(app) as client:
        text = client.get("/metrics").text
    assert f'metasync_export_failing{{tenant="{failing}"}} 1.0' in text
    assert f'metasync_export_failing{{tenant="{working}"}} 0.0' in text
    assert f'metasync_export_last_success_timestamp_seconds{{tenant="{working}"}}' in text
    assert f'metasync_export_last_success_timestamp_seconds{{tenant="{failing}"}}' not in text


def test_one_accounts_bad_row_holds_back_only_that_account(
    synced_first: list[MetaConnection], postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row the export cannot turn into a warehouse row for a reason it does not foresee
    fails its account's stream and no other. (A value the export foresees, such as a day
    that is no date, sets its one row aside instead: test_unconvertible_values.py.)"""
    from metasync.export import run
    from metasync.models import DailyInsight, utcnow

    tenant = synced_first[0].tenant_id
    bad, good = synced_first[0].ad_account_ids
    row = DailyInsight._get_collection().find_one(
        {"tenant_id": tenant, "account_id": bad, "level": "ad"}, {"_id": 0}
    )
    assert row is not None
    broken = {**row, "date": "2026-02-30", "entity_id": "999", "fetched_at": utcnow()}
    DailyInsight._get_collection().insert_one(broken)
    own_row = run.own_row

    def unforeseen(table: str, doc: dict[str, Any], *args: Any) -> Any:
        if doc.get("entity_id") == "999":
            raise ValueError("a row no check foresaw")
        return own_row(table, doc, *args)

    monkeypatch.setattr(run, "own_row", unforeseen)
    with pytest.raises(ExportError, match=f"account {bad} daily rows: ValueError"):
        export_tenant(tenant, postgres_url)
    schema = schema_for(tenant)
    with psycopg.connect(postgres_url) as con:
        accounts = {
            r[0] for r in con.execute(f"SELECT DISTINCT account_id FROM {schema}.basic_ad".encode())
        }
        report_accounts = {
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT account_id FROM {schema}.metasync_report_rows".encode()
            )
        }
    assert int(good) in accounts  # the other account and the bad one's reports carried on
    assert report_accounts == {bad, good}
    assert ExportRun.objects(tenant_id=tenant).get().error.count("account") == 1
    DailyInsight._get_collection().delete_one({"date": "2026-02-30"})
    result = export_tenant(tenant, postgres_url)  # the operator removed it: the rest follows
    assert result.rows["basic_ad"] > 0
    with psycopg.connect(postgres_url) as con:
        count = con.execute(
            f"SELECT count(DISTINCT account_id) FROM {schema}.basic_ad".encode()
        ).fetchone()
    assert count == (2,)


def test_parquet_files_owed_by_an_export_that_died_are_written_by_the_next(
    synced_first: list[MetaConnection], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metasync.export.duck import ParquetWarehouse

    tenant = synced_first[0].tenant_id
    url = f"parquet:///{tmp_path}/lake"
    written = ParquetWarehouse.after_commit

    def dies(self: ParquetWarehouse, tables: set[str]) -> None:
        raise KeyboardInterrupt  # the process ends after its rows committed, before its files

    monkeypatch.setattr(ParquetWarehouse, "after_commit", dies)
    with pytest.raises(KeyboardInterrupt):
        export_tenant(tenant, url)
    folder = tmp_path / "lake" / schema_for(tenant)
    assert not list(folder.glob("*.parquet"))
    monkeypatch.setattr(ParquetWarehouse, "after_commit", written)
    again = export_tenant(tenant, url)
    assert sum(again.rows.values()) == 0  # the rows were all there already
    rows = duckdb.sql(f"SELECT count(*) FROM '{folder}/basic_ad.parquet'").fetchone()
    assert rows is not None and rows[0] > 0  # yet the files they owed are written now
    assert {"ad_history.parquet", "url_tag.parquet"} <= {p.name for p in folder.glob("*")}
