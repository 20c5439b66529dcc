"""The warehouse follows the mirror through real workers: each sync is followed by an export
of its tenant, a worker SIGKILLed in the middle of one is replaced, and the warehouse ends equal
to the sandbox's ground truth with no row twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from celery import Celery

from metasync.embedded import Workers
from metasync.export.destinations import schema_for
from metasync.export.sql import MARKS
from metasync.export.targets import set_target
from metasync.models import ExportRun, ExportTarget, MetaConnection, SyncRun
from metasync.sync import SyncContext
from tests.support.sandbox import Sandbox
from tests.support.workers import QUICK_REDELIVERY_ENV, STALL_CHECK_ENV, enqueue_sync

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {
        **sync_env,
        **QUICK_REDELIVERY_ENV,
        **STALL_CHECK_ENV,
        "META_INSIGHTS_INITIAL_DAYS": "10",
        "EXPORT_BATCH_ROWS": "100",  # many small transactions: a kill lands between two
        "EXPORT_LEASE_SECONDS": "8",
    }


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as con:
        try:
            return con.execute(sql.encode()).fetchall()
        except psycopg.errors.UndefinedTable:
            return []


def _marked(url: str, tenants: list[str]) -> bool:
    return any(_query(url, f"SELECT 1 FROM {schema_for(t)}.{MARKS} LIMIT 1") for t in tenants)


@pytest.mark.usefixtures("recovery_beat")
def test_exports_follow_syncs_and_survive_a_killed_worker(
    world: Sandbox,
    ctx: SyncContext,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    tmp_path: Path,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
    postgres_url: str,
) -> None:
    tenants = [c.tenant_id for c in connections]
    # the server trusts local connections: the password is there to be kept secret
    with_password = postgres_url.replace("://postgres@", "://postgres:export-secret@")
    assert "export-secret" in with_password
    for tenant in tenants:
        set_target(ctx.cipher, tenant, with_password)
    assert all("export-secret" not in t.url_envelope for t in ExportTarget.objects)
    (tmp_path / "first").mkdir()
    first = Workers(sync_env, tmp_path / "first", count=1).start()
    try:
        for connection in connections:
            enqueue_sync(celery_client, connection, "entities")
        wait_for_runs(len(connections), kind="entities")
        for connection in connections:
            enqueue_sync(celery_client, connection, "performance")
        deadline = time.monotonic() + 120
        while not _marked(postgres_url, tenants):  # an export wrote its first rows
            assert time.monotonic() < deadline, first.log_text()[-3000:]
            time.sleep(0.01)
        first.kill()
    finally:
        first.stop()
    (tmp_path / "second").mkdir()
    second = Workers(sync_env, tmp_path / "second", count=2).start()
    try:
        wait_for_runs(len(connections), timeout=180, kind="performance")
        truth = world.truth()
        expected = {
            t: sorted(
                (r["ad_id"], r["date_start"], r["spend"])
                for r in truth["insights"]["ad"]
                if r["account_id"] in c.ad_account_ids
            )
            for t, c in zip(tenants, connections, strict=True)
        }

        def exported(tenant: str) -> list[tuple[str, str, str]]:
            rows = _query(
                postgres_url, f"SELECT ad_id, date, spend FROM {schema_for(tenant)}.basic_ad"
            )
            return sorted((a, d.isoformat(), str(s)) for a, d, s in rows)

        deadline = time.monotonic() + 120
        while (
            any(exported(t) != expected[t] for t in tenants)
            or ExportRun.objects(status="running").count()
        ):
            assert time.monotonic() < deadline, (
                {t: (len(exported(t)), len(expected[t])) for t in tenants},
                [(r.tenant_id, r.status, r.error) for r in ExportRun.objects],
                second.log_text()[-3000:],
            )
            time.sleep(0.5)
    finally:
        second.stop()
    for tenant in tenants:
        schema = schema_for(tenant)
        total, distinct = _query(
            postgres_url,
            f"SELECT count(*), count(DISTINCT (ad_id, date, action_type)) "
            f"FROM {schema}.basic_ad_actions",
        )[0]
        assert total == distinct > 0
    runs = list(ExportRun.objects)
    assert any("interrupted" in (r.error or "") for r in runs)  # the kill hit an export
    assert {r.status for r in runs} <= {"succeeded", "failed"}
    assert all(r.status == "succeeded" or "interrupted" in (r.error or "") for r in runs)
    assert "export-secret" not in "".join(str(r.to_mongo()) for r in runs)
    assert "export-secret" not in first.log_text() + second.log_text()
