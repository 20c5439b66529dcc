"""Faults under real services and real worker processes. Each scenario is bounded in time and
ends with MongoDB equal to the sandbox's ground truth (entities and daily rows, no duplicate
documents) and every SyncRun in a terminal state."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from metasync.embedded import EmbeddedService, Workers, start_mongo, start_redis
from metasync.models import MetaConnection, RunStatus, SyncRun
from tests.support.sandbox import Sandbox
from tests.support.truth import entity_mismatches, insight_mismatches
from tests.support.workers import QUICK_REDELIVERY_ENV, start_beat

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {
        **sync_env,
        **QUICK_REDELIVERY_ENV,
        "META_INSIGHTS_INITIAL_DAYS": "10",
        "META_INSIGHTS_SYNC_MAX_DAYS": "7",
        # beat fires entity syncs on every minute boundary; performance syncs not within a test
        "META_SYNC_INTERVAL_MINUTES": "1",
        "PERFORMANCE_SYNC_INTERVAL_MINUTES": "600",
    }


def run_everything(client: Celery, connections: list[MetaConnection]) -> None:
    for kind in ("entities", "performance"):
        for connection in connections:
            client.send_task(
                "metasync.sync_connection",
                args=[str(connection.pk)],
                kwargs={"kind": kind, "trigger": "fault-test"},
            )


def settled(
    world: Sandbox,
    connections: list[MetaConnection],
    wait_for_runs: Callable[..., list[SyncRun]],
    timeout: float = 300,
) -> None:
    """Every run ended; the mirror equals the world, entities and daily rows, no duplicates."""
    runs = wait_for_runs(2 * len(connections), timeout=timeout)
    assert all(r.status in RunStatus.TERMINAL for r in runs)
    tenants = {a: c.tenant_id for c in connections for a in c.ad_account_ids}
    assert entity_mismatches(world.truth(), tenants) == []
    assert insight_mismatches(world.truth(), tenants) == []


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedService]:
    service = start_redis(tmp_path / "redis", appendonly=True)
    yield service
    service.stop()


def test_redis_restarted_mid_run(
    world: Sandbox,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    tmp_path: Path,
    own_redis: EmbeddedService,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    from tests.support.workers import client_app

    env = {**sync_env, "REDIS_URL": own_redis.url}
    world.control("POST", "faults", {"latency_ms": 60, "job_seconds": 2})
    workers = Workers(env, tmp_path, count=2).start()
    client = client_app(own_redis.url, env["REDIS_KEY_PREFIX"])
    try:
        run_everything(client, connections)
        time.sleep(1.5)
        own_redis.stop()  # SIGTERM: with AOF (fsync every second) the queue is on disk
        time.sleep(2)
        restarted = start_redis(tmp_path / "redis", port=own_redis.port, appendonly=True)
        own_redis.process = restarted.process
        settled(world, connections, wait_for_runs)
    finally:
        workers.stop()


@pytest.fixture
def mongo_uri(own_mongo: EmbeddedService) -> str:  # this module's tests that ask for it
    return own_mongo.url


def test_mongodb_restarted_mid_run(
    world: Sandbox,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    tmp_path: Path,
    own_mongo: EmbeddedService,
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    world.control("POST", "faults", {"latency_ms": 60, "job_seconds": 2})
    run_everything(celery_client, connections)
    time.sleep(1.5)
    own_mongo.stop()
    time.sleep(2)
    restarted = start_mongo(tmp_path / "mongo", port=own_mongo.port)
    own_mongo.process = restarted.process
    settled(world, connections, wait_for_runs)


def test_a_turned_up_fault_profile(
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    world.control(
        "POST",
        "faults",
        {
            "error_5xx_rate": 0.08,
            "code2_rate": 0.04,
            "slow_rate": 0.03,
            "slow_ms": 800,
            "reduce_data_above": 150,
            "empty_page_rate": 0.2,
            "batch_null_rate": 0.3,
            "job_seconds": 0.5,
            "job_fail_rate": 0.2,
            "job_skip_rate": 0.1,
            "job_stuck_rate": 0.1,
            "seed": 13,
        },
    )
    world.control("POST", "budgets", {"account": 25, "window_seconds": 8})  # a throttling storm
    run_everything(celery_client, connections)
    settled(world, connections, wait_for_runs, timeout=360)
    counters = world.control("GET", "counters")
    assert counters["by_error_code"].get("1", 0) > 0 and counters["by_error_code"].get("2", 0) > 0
    # the usage headers let the governor pace the calls: the storm was waited out, not hit
    assert sum(r.throttled_seconds for r in SyncRun.objects) > 0
    assert counters["by_error_code"].get("17", 0) <= 2


def test_two_beat_processes_started_by_mistake_queue_one_round(
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    tmp_path: Path,
    workers: Workers,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    beats = [start_beat(sync_env, tmp_path, f"beat-{n}") for n in range(2)]
    logs = [tmp_path / f"beat-{n}.log" for n in range(2)]
    try:
        deadline = time.monotonic() + 90  # the next minute boundary, and start-up
        while time.monotonic() < deadline and not all(
            "Sending due task entity-syncs" in log.read_text() for log in logs
        ):
            time.sleep(0.5)
    finally:
        for beat in beats:
            beat.terminate()
            beat.wait(15)
    assert all("Sending due task entity-syncs" in log.read_text() for log in logs), "both beats"
    runs = wait_for_runs(len(connections))
    time.sleep(2)  # a doubled schedule would have queued a second round by now
    assert SyncRun.objects.count() == len(connections), "one round, nothing skipped"
    assert sorted(r.connection_id for r in runs) == sorted(str(c.pk) for c in connections)
    assert all(r.trigger == "schedule" and r.status == RunStatus.SUCCEEDED for r in runs)
