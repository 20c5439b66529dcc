"""Months of unattended running, end to end with real workers: one failing account costs only
itself, and report-job polls never use up a task's retries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from celery import Celery

from metasync.embedded import Workers
from metasync.models import MetaConnection, ReportRun, RunStatus, SyncRun
from metasync.sync import SyncContext
from metasync.sync.connections import add_connection
from tests.e2e.test_entity_sync_workers import enqueue
from tests.support.sandbox import Sandbox
from tests.support.workers import QUICK_REDELIVERY_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, **QUICK_REDELIVERY_ENV}


def test_a_permanently_failing_account_costs_only_itself(
    ctx: SyncContext,
    world: Sandbox,
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    mine = [a.removeprefix("act_") for a in world.user(0)["ad_account_ids"]]
    foreign = world.user(1)["ad_account_ids"][0].removeprefix("act_")
    clean = add_connection(ctx, "clean", world.user(0)["token"], mine)
    failing = add_connection(ctx, "failing", world.user(0)["token"], [*mine, foreign])
    enqueue(celery_client, clean)
    enqueue(celery_client, failing)
    first = {r.tenant_id: r for r in wait_for_runs(2)}
    assert first["clean"].status == RunStatus.SUCCEEDED
    assert first["failing"].status == RunStatus.PARTIAL  # (#200) on the foreign account

    calls = {}
    for total, connection in ((3, clean), (4, failing)):  # one at a time: counters per run
        world.control("POST", "counters")
        enqueue(celery_client, connection)
        wait_for_runs(total)
        calls[connection.tenant_id] = world.graph_calls()
    second = {r.tenant_id: r for r in SyncRun.objects(pk__nin=[r.pk for r in first.values()])}
    assert second["failing"].status == RunStatus.SUCCEEDED
    assert second["failing"].full == 0, "the other accounts stay incremental"
    # each account's details (a batch item each), then per account 8 edges: 3 of the tree
    # since the last sync, 4 libraries in full, the activities since the last sync
    assert calls["failing"] == calls["clean"] == 9 * len(mine)


def test_report_job_polls_are_fresh_messages_not_retries(
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    """Before: a poll was ``task.retry``, so after 8 polls (the task's ``max_retries``) one
    transient error failed the subtask for good; each retry shows in the worker's log."""
    world.control("POST", "faults", {"job_seconds": 6})
    connection = connections[0]
    enqueue(celery_client, connection, kind="performance")  # a first run: 30 days, async jobs
    (run,) = wait_for_runs(1, timeout=150)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    jobs = ReportRun.objects(sync_run_id=str(run.pk))
    assert jobs and max(job.polls for job in jobs) >= 3
    assert "Retry in" not in workers.log_text()
