"""Reports read by real worker processes: every prebuilt report equals the ground truth, and
reconciliation flags the day the sandbox corrupts and passes the others."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from celery import Celery

from metasync.embedded import Workers
from metasync.models import MetaConnection, Reconciliation, RunPlan, RunStatus, SyncRun
from metasync.reports.definitions import PREBUILT
from metasync.reports.store import set_enabled
from metasync.sandbox.world import WorldSize
from metasync.sync.plan.report_plan import report_range
from tests.support.reports import report_mismatches, served_truth
from tests.support.sandbox import Sandbox
from tests.support.small_world import small_world
from tests.support.workers import enqueue_sync

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def world_size() -> WorldSize:
    return small_world(days=8)


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, "META_INSIGHTS_INITIAL_DAYS": "8"}


def test_prebuilt_reports_equal_the_ground_truth_and_a_corrupted_day_is_flagged(
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    connection = connections[0]
    for name in PREBUILT:
        set_enabled(connection.tenant_id, name, True)
    corrupt_account = connection.ad_account_ids[0]
    first_day, last_day = world.truth()["windows"][corrupt_account]
    corrupt_day = (date.fromisoformat(first_day) + timedelta(days=2)).isoformat()
    world.control(
        "POST",
        "faults",
        {"job_seconds": 0.3, "corrupt_account_days": [f"{corrupt_account}:{corrupt_day}"]},
    )
    enqueue_sync(celery_client, connection, "entities")
    wait_for_runs(1, kind="entities")
    enqueue_sync(celery_client, connection, "performance")
    (run,) = wait_for_runs(1, kind="performance", timeout=240)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    ranges = RunPlan.of(run.pk).ranges
    problems: list[str] = []
    for account_id in connection.ad_account_ids:
        since, until = (date.fromisoformat(day) for day in ranges[account_id])
        for report in PREBUILT.values():
            days = report_range(report, "initial", since, until, until)
            assert days is not None
            expected = served_truth(world, report, account_id, *days)
            problems += report_mismatches(expected, report, connection.tenant_id, account_id)
    assert problems == []

    deadline = time.monotonic() + 60  # the closing worker reconciles after the run ends
    while not SyncRun.objects.get(pk=run.pk).reconciliation and time.monotonic() < deadline:
        time.sleep(0.2)
    outcomes = {
        (r.account_id, r.date): r.status
        for r in Reconciliation.objects(tenant_id=connection.tenant_id)
    }
    assert outcomes[(corrupt_account, corrupt_day)] == "mismatch"
    others = {
        key: status for key, status in outcomes.items() if key != (corrupt_account, corrupt_day)
    }
    assert len(others) >= 2 * 7 and set(others.values()) == {"ok"}
    assert SyncRun.objects.get(pk=run.pk).reconciliation == {"ok": len(others), "mismatch": 1}
    assert last_day in {day for _, day in outcomes}
