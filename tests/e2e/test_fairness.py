"""Fairness under a backlog, with a real worker: a one-account tenant's sync is served in turn
beside a big tenant's, not after all of the big tenant's work."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from metasync.models import RunStatus, SyncRun
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext
from metasync.sync.connections import add_connection
from tests.support.sandbox import Sandbox
from tests.support.workers import Workers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

WINDOW = 2


@pytest.fixture
def world_size() -> WorldSize:
    return WorldSize(
        users=1,
        accounts_per_user=12,
        campaigns_per_account=2,
        adsets_per_campaign=1,
        ads_per_adset=1,
        days=3,
    )


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, "SYNC_SUBTASKS_IN_FLIGHT": str(WINDOW)}


@pytest.fixture
def one_worker(sync_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    """One worker process: messages are served strictly in queue order."""
    running = Workers(sync_env, tmp_path, count=1).start()
    yield running
    running.stop()


def test_a_small_tenant_is_served_beside_a_big_one(
    ctx: SyncContext,
    world: Sandbox,
    one_worker: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    """Before: the big tenant's 48 subtasks went on the queue at once and the small tenant's 4
    came after all of them, so it finished last; with the window, the big run has 2 messages
    on the queue at a time and the small run's subtasks take their turns between them."""
    user = world.user()
    accounts = [a.removeprefix("act_") for a in user["ad_account_ids"]]
    big = add_connection(ctx, "big-tenant", user["token"], accounts)
    small = add_connection(ctx, "small-tenant", user["token"], accounts[:1])
    celery_client.send_task(
        "metasync.sync_connection", args=[str(big.pk)], kwargs={"full": True, "trigger": "test"}
    )
    deadline = time.monotonic() + 60
    while not SyncRun.objects(connection_id=str(big.pk), planned=1).count():
        assert time.monotonic() < deadline, "the big run never planned"
        time.sleep(0.1)
    celery_client.send_task(
        "metasync.sync_connection", args=[str(small.pk)], kwargs={"full": True, "trigger": "test"}
    )
    runs = {r.connection_id: r for r in wait_for_runs(2, timeout=240)}
    big_run, small_run = runs[str(big.pk)], runs[str(small.pk)]
    assert {big_run.status, small_run.status} == {RunStatus.SUCCEEDED}
    assert big_run.subtasks_total >= 4 * len(accounts)
    assert small_run.finished_at < big_run.finished_at
    big_seconds = (big_run.finished_at - big_run.started_at).total_seconds()
    small_seconds = (small_run.finished_at - small_run.started_at).total_seconds()
    assert small_seconds < big_seconds / 2, (small_seconds, big_seconds)
