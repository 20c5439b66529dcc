"""Worker child processes and whole workers SIGKILLed repeatedly in the middle of syncs.

Every run still ends, and MongoDB equals the sandbox's ground truth with no duplicate document.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from bson import ObjectId
from celery import Celery

from metasync.embedded import Workers
from metasync.models import MetaConnection, RunStatus, SyncRun
from metasync.sync import SyncContext, start_sync
from tests.support.sandbox import Sandbox
from tests.support.truth import entity_mismatches, insight_mismatches
from tests.support.workers import QUICK_REDELIVERY_ENV, STALL_CHECK_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

CHILD_KILLS = 6  # pool children killed during one scenario
WHOLE_WORKER_KILL_ROUND = 3


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {
        **sync_env,
        **QUICK_REDELIVERY_ENV,
        **STALL_CHECK_ENV,
        "META_INSIGHTS_INITIAL_DAYS": "10",
        "META_INSIGHTS_SYNC_MAX_DAYS": "7",
    }


def _pool_children(pool: list[Workers]) -> list[psutil.Process]:
    children: list[psutil.Process] = []
    for workers in pool:
        for process in workers.processes:
            if process.poll() is None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    children.extend(psutil.Process(process.pid).children())
    return children


@pytest.mark.usefixtures("recovery_beat")
def test_worker_children_and_whole_workers_killed_repeatedly(
    world: Sandbox,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    tmp_path: Path,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    # some jobs fail (started again, then split): kills land in splits and hand-offs too
    world.control(
        "POST", "faults", {"latency_ms": 40, "job_seconds": 1, "job_fail_rate": 0.15, "seed": 3}
    )
    pool = []
    for n in range(3):
        (tmp_path / f"w{n}").mkdir()
        pool.append(Workers(sync_env, tmp_path / f"w{n}", count=1, name=f"chaos{n}-"))
    pool[0].start()
    pool[1].start()
    killed = {"children": 0, "workers": 0}
    stop = threading.Event()

    def chaos() -> None:
        rng = random.Random(7)
        for round_number in range(16):
            if stop.wait(1.0) or killed["children"] >= CHILD_KILLS:
                return
            victims = _pool_children(pool)
            if victims:
                with contextlib.suppress(psutil.NoSuchProcess):
                    rng.choice(victims).kill()  # SIGKILL a pool child in the middle of a task
                    killed["children"] += 1
            if round_number == WHOLE_WORKER_KILL_ROUND:
                pool[0].kill()  # a whole worker dies; another one takes its place
                killed["workers"] += 1
                pool[2].start()

    thread = threading.Thread(target=chaos)
    thread.start()
    try:
        for kind in ("entities", "performance"):
            for connection in connections:
                celery_client.send_task(
                    "metasync.sync_connection",
                    args=[str(connection.pk)],
                    kwargs={"kind": kind, "trigger": "fault-test"},
                )
        thread.join()
        runs = wait_for_runs(2 * len(connections), timeout=240)
    finally:
        stop.set()
        thread.join()
        for workers in pool:
            workers.stop()
    assert killed["children"] >= CHILD_KILLS and killed["workers"] == 1
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * len(runs), [r.errors for r in runs]
    tenants = {a: c.tenant_id for c in connections for a in c.ad_account_ids}
    assert entity_mismatches(world.truth(), tenants) == []
    assert insight_mismatches(world.truth(), tenants) == []


@pytest.mark.usefixtures("recovery_beat", "workers")
def test_a_lost_task_message_is_queued_again_by_the_stall_check(
    world: Sandbox,
    connections: list[MetaConnection],
    ctx: SyncContext,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    """What a worker killed between popping a message and recording it unacknowledged leaves
    behind: a run counting a subtask whose message no longer exists anywhere."""
    starts = [start_sync(ctx, str(c.pk), trigger="fault-test") for c in connections]
    *sent, lost = [sub for start in starts for sub in start.subtasks]
    for sub in sent:
        celery_client.send_task("metasync.fetch_edge", kwargs=sub.as_kwargs())
    runs = {r.pk: r for r in wait_for_runs(len(connections), timeout=90)}
    assert all(r.status == RunStatus.SUCCEEDED for r in runs.values())
    recovered = runs[ObjectId(lost.run_id)]
    assert recovered.recovered == 1 and not recovered.inflight
    assert sum(r.recovered for r in runs.values()) == 1, "only the stalled run"
    tenants = {a: c.tenant_id for c in connections for a in c.ad_account_ids}
    assert entity_mismatches(world.truth(), tenants) == []
