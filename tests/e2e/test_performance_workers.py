"""Performance sync by real worker processes: 35 days of rows, failing jobs, a killed worker,
an expiring token."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from celery import Celery

from metasync.embedded import Workers
from metasync.models import (
    ConnectionStatus,
    DailyInsight,
    MetaConnection,
    ReportRun,
    RunStatus,
    SyncRun,
)
from metasync.sandbox.world import WorldSize
from tests.support.sandbox import Sandbox
from tests.support.truth import insight_mismatches
from tests.support.workers import QUICK_REDELIVERY_ENV, STALL_CHECK_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def world_size() -> WorldSize:
    return WorldSize(
        users=3,
        accounts_per_user=2,
        campaigns_per_account=3,
        adsets_per_campaign=2,
        ads_per_adset=2,
        days=35,
    )


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {
        **sync_env,
        **QUICK_REDELIVERY_ENV,
        **STALL_CHECK_ENV,  # where beat runs: the killed-worker test
        "META_INSIGHTS_INITIAL_DAYS": "35",
    }


@pytest.fixture
def entities_synced(
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    for connection in connections:
        enqueue(celery_client, connection, "entities")
    wait_for_runs(len(connections), kind="entities")


def enqueue(client: Celery, connection: MetaConnection, kind: str) -> None:
    client.send_task(
        "metasync.sync_connection",
        args=[str(connection.pk)],
        kwargs={"kind": kind, "trigger": "test"},
    )


def tenants(connections: list[MetaConnection]) -> dict[str, str]:
    return {a: c.tenant_id for c in connections for a in c.ad_account_ids}


@pytest.mark.usefixtures("entities_synced")
def test_35_days_equal_the_ground_truth_and_a_second_run_adds_nothing(
    world: Sandbox,
    connections: list[MetaConnection],
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    world.control("POST", "faults", {"job_seconds": 0.5})
    for connection in connections:
        enqueue(celery_client, connection, "performance")
    runs = wait_for_runs(len(connections), kind="performance")
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * len(runs), [r.errors for r in runs]
    assert all(r.period["kind"] == "initial" and r.report_jobs["started"] >= 8 for r in runs)
    assert insight_mismatches(world.truth(), tenants(connections)) == []
    before = {d.pk for d in DailyInsight.objects}
    for connection in connections:
        enqueue(celery_client, connection, "performance")
    again = wait_for_runs(2 * len(connections), kind="performance")
    assert all(r.status == RunStatus.SUCCEEDED for r in again)
    assert {d.pk for d in DailyInsight.objects} == before


@pytest.mark.usefixtures("entities_synced")
def test_failing_skipped_and_stalled_jobs_still_end_complete(
    world: Sandbox,
    connections: list[MetaConnection],
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    world.control(
        "POST",
        "faults",
        {
            "job_seconds": 0.3,
            "job_fail_rate": 0.3,
            "job_skip_rate": 0.15,
            "job_stuck_rate": 0.15,
            "seed": 11,
        },
    )
    for connection in connections:
        enqueue(celery_client, connection, "performance")
    runs = wait_for_runs(len(connections), kind="performance", timeout=240)
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * len(runs), [r.errors for r in runs]
    assert sum(r.report_jobs.get("split", 0) for r in runs) >= 1
    assert insight_mismatches(world.truth(), tenants(connections)) == []


@pytest.mark.usefixtures("recovery_beat")
def test_a_killed_worker_is_replaced_and_resumes_the_same_report_run(
    world: Sandbox,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    tmp_path: Path,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    world.control("POST", "faults", {"job_seconds": 6})
    first = Workers(sync_env, tmp_path / "first", count=1)
    (tmp_path / "first").mkdir()
    first.start()
    connection = connections[0]
    enqueue(celery_client, connection, "performance")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and ReportRun.objects(report_run_id__ne=None).count() < 8:
        time.sleep(0.1)
    started = {j.job_key: j.report_run_id for j in ReportRun.objects(report_run_id__ne=None)}
    assert len(started) == 8, "every job of the run was started before the kill"
    first.kill()
    replacement = Workers(sync_env, tmp_path / "second", count=1)
    (tmp_path / "second").mkdir()
    replacement.start()
    try:
        runs = wait_for_runs(1, kind="performance", timeout=120)
    finally:
        replacement.stop()
    assert runs[0].status == RunStatus.SUCCEEDED, runs[0].errors
    after = {j.job_key: j.report_run_id for j in ReportRun.objects(job_key__in=list(started))}
    assert after == started  # the same report runs were resumed, none started again
    created = world.control("GET", "counters")["by_path"]["POST /act_{id}/insights"]
    assert created == 8
    assert insight_mismatches(world.truth(), tenants([connection])) == []


@pytest.mark.usefixtures("entities_synced")
def test_token_expiring_mid_run_leaves_other_tenants_complete(
    world: Sandbox,
    connections: list[MetaConnection],
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    world.control("POST", "faults", {"job_seconds": 2})
    doomed, others = connections[0], connections[1:]
    for connection in connections:
        enqueue(celery_client, connection, "performance")
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and not ReportRun.objects(connection_id=str(doomed.pk), report_run_id__ne=None).count()
    ):
        time.sleep(0.05)
    world.control("POST", "tokens/expire", {"user_id": doomed.meta_user_id})
    runs = {r.connection_id: r for r in wait_for_runs(len(connections), kind="performance")}
    assert runs[str(doomed.pk)].status == RunStatus.FAILED
    assert MetaConnection.objects.get(pk=doomed.pk).status == ConnectionStatus.EXPIRED
    assert all(runs[str(c.pk)].status == RunStatus.SUCCEEDED for c in others)
    assert insight_mismatches(world.truth(), tenants(others)) == []
