"""Values that cannot block anyone: text PostgreSQL refuses is cleaned and counted, ``\\N``
stays text in DuckDB, a quote in a Parquet path is a path, an id too large for ``bigint`` or not
a number at all names its row while the rest is exported, and bad ports and hosts end
``export run`` in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from bson import ObjectId

from metasync.export import export_tenant
from metasync.export.destinations import schema_for
from metasync.models import Campaign, ExportRun, MetaConnection
from tests.support.api_mirror import build_tenant


def _rename_a_campaign(tenant: str, name: str) -> str:
    doc = Campaign._get_collection().find_one({"tenant_id": tenant})
    assert doc is not None
    Campaign._get_collection().update_one({"_id": doc["_id"]}, {"$set": {"name": name}})
    return str(doc["meta_id"])


def test_text_postgresql_refuses_is_cleaned_counted_and_the_rest_exported(
    synced_first: list[MetaConnection], postgres_url: str
) -> None:
    tenant = synced_first[0].tenant_id
    campaign = _rename_a_campaign(tenant, "Spring\x00Sale\x00")
    result = export_tenant(tenant, postgres_url)
    assert result.rows["ad_history"] > 0  # the objects' transaction was not rolled back
    with psycopg.connect(postgres_url) as con:
        names = con.execute(
            f"SELECT name FROM {schema_for(tenant)}.campaign_history WHERE id = %s".encode(),
            (int(campaign),),
        ).fetchall()
    assert names == [("SpringSale",)]
    run = ExportRun.objects(tenant_id=tenant).get()
    assert run.status == "succeeded" and run.cleaned == {"campaign_history": 2}


def test_the_text_backslash_n_stays_text_in_duckdb(
    synced_first: list[MetaConnection], tmp_path: Path
) -> None:
    tenant = synced_first[0].tenant_id
    campaign = _rename_a_campaign(tenant, "\\N")
    export_tenant(tenant, f"duckdb:///{tmp_path}/w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        found = con.execute(
            f"SELECT name FROM {schema_for(tenant)}.campaign_history WHERE id = ?",
            [int(campaign)],
        ).fetchall()
    assert found == [("\\N",)]


def test_a_quote_in_a_parquet_directory_is_part_of_the_path(
    synced_first: list[MetaConnection], tmp_path: Path
) -> None:
    tenant = synced_first[0].tenant_id
    lake = tmp_path / "agency's lake"
    result = export_tenant(tenant, f"parquet:///{lake}")
    assert result.rows["basic_ad"] > 0
    assert (lake / schema_for(tenant) / "basic_ad.parquet").stat().st_size > 0


def test_an_id_beyond_64_bits_names_its_row_and_the_rest_is_exported(
    synced_first: list[MetaConnection], postgres_url: str
) -> None:
    tenant = synced_first[0].tenant_id
    collection = Campaign._get_collection()
    doc = collection.find_one({"tenant_id": tenant})
    assert doc is not None
    huge = "184467440737095516160"  # ten times 2**64
    collection.insert_one({**doc, "_id": ObjectId(), "meta_id": huge})
    result = export_tenant(tenant, postgres_url)  # set aside and named: not a failure
    assert result.rejected_count == 1
    assert result.rejected[0].startswith(f"campaign_history row id={huge},")
    with psycopg.connect(postgres_url) as con:
        campaigns = con.execute(
            f"SELECT count(DISTINCT id) FROM {schema_for(tenant)}.campaign_history".encode()
        ).fetchone()
        ads = con.execute(f"SELECT count(*) FROM {schema_for(tenant)}.basic_ad".encode()).fetchone()
    mirrored = collection.count_documents({"tenant_id": tenant})
    assert campaigns == (mirrored - 1,) and ads is not None and ads[0] > 0
    run = ExportRun.objects(tenant_id=tenant).get()
    assert (run.status, run.error, run.rejected_count) == ("succeeded", None, 1)
    assert f"id {huge} does not fit bigint" in run.rejected[0]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("postgresql://u@localhost:54x2/db", "port is not a number"),
        ("postgresql://u@no-such-host.invalid/db", "no-such-host.invalid"),
    ],
)
def test_a_bad_port_or_host_ends_export_run_in_one_line(
    sync_env: dict[str, str], url: str, named: str
) -> None:
    MetaConnection(tenant_id="t1", meta_user_id="u1").save()  # a tenant the CLI knows
    done = subprocess.run(
        [sys.executable, "-m", "metasync", "export", "run", "--tenant", "t1", "--to", url],
        env={"PATH": os.environ.get("PATH", ""), **sync_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (1, 2)
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and named in done.stderr, done.stderr


@pytest.mark.parametrize("scheme", ["postgresql", "duckdb"])
def test_an_id_that_is_not_a_number_names_its_row_and_the_rest_is_exported(
    mongo: str, postgres_url: str, tmp_path: Path, scheme: str
) -> None:
    """A mirror whose campaign, ad set and ad ids are letters and digits (``c1``): their rows
    are named, not written without an id, and the account and its daily rows are exported."""
    mirror = build_tenant("lettered", 1)
    url = postgres_url if scheme == "postgresql" else f"duckdb:///{tmp_path}/w.duckdb"
    result = export_tenant(mirror.tenant_id, url)  # set aside and named: not a failure
    named = "; ".join(result.rejected)
    for table, meta_id in (
        ("campaign_history", mirror.campaign_id),
        ("ad_set_history", mirror.adset_id),
        ("ad_history", mirror.ad_id),
    ):
        assert f"{table} row id={meta_id}," in named
    assert f"id {mirror.campaign_id} is not an integer (bigint)" in named
    run = ExportRun.objects(tenant_id=mirror.tenant_id).get()
    assert run.status == "succeeded" and run.error is None  # the step was not rolled back
    assert run.rejected == result.rejected and run.rejected_count == result.rejected_count
    schema = schema_for(mirror.tenant_id)
    counted = "SELECT (SELECT count(*) FROM {0}.account_history), (SELECT count(*) FROM "
    counted += "{0}.campaign_history), (SELECT count(*) FROM {0}.basic_ad)"
    if scheme == "postgresql":
        with psycopg.connect(postgres_url) as con:
            counts = con.execute(counted.format(schema).encode()).fetchone()
    else:
        with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
            counts = con.execute(counted.format(schema)).fetchone()
    assert counts == (1, 0, 5)  # build_tenant: one account, five days of its ad


def test_a_row_set_aside_is_a_success_named_to_the_operator(
    ctx: Any,
    synced_first: list[MetaConnection],
    sync_env: dict[str, str],
    redis_client: Any,
    postgres_url: str,
) -> None:
    """The export after each sync (the worker's path) succeeds with a row the destination
    cannot hold: nothing raises (so the worker does not retry), the last success moves,
    ``metasync_export_failing`` stays 0, and the row is named on ``/metrics`` (counted), the
    console's pages and ``export status``."""
    from fastapi.testclient import TestClient

    from metasync.config import load_settings
    from metasync.console.exports import exports_page, tenant_exports
    from metasync.export.targets import export_stored, set_target
    from metasync.webhooks.app import create_app

    tenant = synced_first[0].tenant_id
    collection = Campaign._get_collection()
    doc = collection.find_one({"tenant_id": tenant})
    assert doc is not None
    collection.insert_one({**doc, "_id": ObjectId(), "meta_id": "c77"})
    set_target(ctx.cipher, tenant, postgres_url)
    for _ in range(2):  # objects are read whole: every export meets the row again
        result = export_stored(ctx.cipher, ctx.settings, tenant)
        assert result is not None and result.rejected_count == 1
    runs = list(ExportRun.objects(tenant_id=tenant))
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    named = "campaign_history row id=c77, "
    assert all(r.rejected_count == 1 and r.rejected[0].startswith(named) for r in runs)
    app = create_app(
        load_settings({**sync_env, "META_APP_VERIFY_TOKEN": "v", "METRICS_PUBLIC": "true"}),
        lambda c, k: None,
        redis_client,
        connect_db=False,
    )
    with TestClient(app) as client:
        text = client.get("/metrics").text
    assert f'metasync_export_failing{{tenant="{tenant}"}} 0.0' in text
    assert f'metasync_export_rejected_rows{{tenant="{tenant}"}} 1.0' in text
    assert f'metasync_export_last_success_timestamp_seconds{{tenant="{tenant}"}}' in text
    _, shown = tenant_exports(tenant)
    assert shown[0].rejected_count == 1 and shown[0].rejected[0].startswith(named)
    listed = [d for d in exports_page().destinations if d.tenant_id == tenant]
    assert listed[0].last is not None and listed[0].last.rejected[0].startswith(named)
    done = subprocess.run(
        [sys.executable, "-m", "metasync", "export", "status", "--tenant", tenant],
        env={"PATH": os.environ.get("PATH", ""), "COLUMNS": "400", **sync_env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "id=c77" in done.stdout and "succeeded" in done.stdout
