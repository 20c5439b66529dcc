"""Entity sync by real worker processes through Redis, compared with the sandbox's world."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from celery import Celery

from metasync.models import (
    Ad,
    AdActivity,
    AdSet,
    Campaign,
    ChangeRecord,
    ConnectionStatus,
    MetaConnection,
    RunStatus,
    SyncRun,
)
from metasync.sync import SyncContext
from tests.support.sandbox import Sandbox
from tests.support.truth import entity_mismatches
from tests.support.workers import Workers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def enqueue(client: Celery, connection: MetaConnection, **kwargs: object) -> str:
    result = client.send_task(
        "metasync.sync_connection", args=[str(connection.pk)], kwargs={"trigger": "test", **kwargs}
    )
    return str(result.id)


def tenants(connections: list[MetaConnection]) -> dict[str, str]:
    return {a: c.tenant_id for c in connections for a in c.ad_account_ids}


def test_full_then_incremental_then_changes(
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    for connection in connections:
        enqueue(celery_client, connection)
    first = wait_for_runs(len(connections))
    assert [r.status for r in first] == [RunStatus.SUCCEEDED] * len(connections), [
        r.errors for r in first
    ]
    assert entity_mismatches(world.truth(), tenants(connections)) == []
    logs = [log.read_text() for log in workers.logs]
    assert all("metasync.fetch_edge" in text and "succeeded" in text for text in logs), (
        "both worker processes took fetch subtasks"
    )
    for user in world.info["users"]:
        assert user["token"] not in workers.log_text()

    world.control("POST", "counters")
    for connection in connections:
        enqueue(celery_client, connection)
    second = [r for r in wait_for_runs(2 * len(connections)) if r.pk not in {f.pk for f in first}]
    accounts = sum(len(c.ad_account_ids) for c in connections)
    assert all(r.full == 0 and r.status == RunStatus.SUCCEEDED for r in second)
    # per account: its details (a batch item: no multi-id read), 3 edges of the tree from the
    # watermark, 4 libraries, activities
    assert world.control("GET", "counters")["graph_calls"] == accounts + 8 * accounts

    truth = world.truth()
    target = next(c for c in truth["campaigns"] if c["effective_status"] == "ACTIVE")
    owner = next(c for c in connections if target["account_id"] in c.ad_account_ids)
    world.control(
        "POST",
        "mutate",
        {"id": target["id"], "action": "update", "fields": {"name": "Winter Sale (edited)"}},
    )
    world.control("POST", "mutate", {"id": target["id"], "action": "pause"})
    vanished = next(
        a
        for a in truth["ads"]
        if a["account_id"] == target["account_id"]
        and a["campaign_id"] != target["id"]
        and a["status"] != "DELETED"
    )
    world.control("POST", "mutate", {"id": vanished["id"], "action": "unlist"})
    enqueue(celery_client, owner, full=True)
    runs = wait_for_runs(2 * len(connections) + 1)
    full = max((r for r in runs if r.connection_id == str(owner.pk)), key=lambda r: r.started_at)
    stored = Campaign.objects.get(meta_id=target["id"])
    assert (stored.name, stored.effective_status) == ("Winter Sale (edited)", "PAUSED")
    children = AdSet.objects(campaign_id=target["id"], status="ACTIVE")
    assert all(a.effective_status == "CAMPAIGN_PAUSED" for a in children)
    # the deleted ad Meta stopped listing was read by id: final status, tombstone
    gone = Ad.objects.get(meta_id=vanished["id"])
    assert gone.effective_status == "DELETED" and gone.deleted_at is not None
    assert full.tombstoned.get("deleted_read_by_id_ads") == 1
    # who paused it (Meta's log) and what metasync saw change (its own)
    paused = AdActivity.objects.get(object_id=target["id"], event_type="update_campaign_run_status")
    assert paused.new_value == "Inactive" and paused.actor_name
    assert ChangeRecord.objects.get(object_id=target["id"], field="status").new_value == "PAUSED"
    assert entity_mismatches(world.truth(), tenants(connections)) == []


def test_token_expiring_mid_run_marks_only_that_connection(
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    world.control("POST", "faults", {"latency_ms": 200})  # long enough to act mid-run
    doomed = connections[0]
    for connection in connections:
        enqueue(celery_client, connection)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = SyncRun.objects(connection_id=str(doomed.pk)).first()
        if run is not None and run.subtasks_done:
            break
        time.sleep(0.05)
    assert run is not None and run.status == RunStatus.RUNNING, "expire it mid-run"
    world.control("POST", "tokens/expire", {"user_id": doomed.meta_user_id})
    runs = {r.connection_id: r for r in wait_for_runs(len(connections))}
    assert runs[str(doomed.pk)].status == RunStatus.FAILED
    assert any(e["type"] == "TokenError" for e in runs[str(doomed.pk)].errors)
    stored = MetaConnection.objects.get(pk=doomed.pk)
    assert stored.status == ConnectionStatus.EXPIRED and stored.status_subcode == 463
    others = [runs[str(c.pk)] for c in connections[1:]]
    assert [r.status for r in others] == [RunStatus.SUCCEEDED] * len(others)


def test_two_concurrent_syncs_of_one_connection_never_both_run(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    world.control("POST", "faults", {"latency_ms": 150})  # runs long enough to overlap
    connection = connections[0]
    enqueue(celery_client, connection)
    enqueue(celery_client, connection)
    runs = wait_for_runs(2, connection_id=str(connection.pk))
    statuses = sorted(r.status for r in runs)
    assert statuses == [RunStatus.SKIPPED, RunStatus.SUCCEEDED] or all(
        a.finished_at <= b.started_at or b.finished_at <= a.started_at
        for a in runs
        for b in runs
        if a is not b and RunStatus.SKIPPED not in (a.status, b.status)
    )
    done = [r for r in runs if r.status == RunStatus.SUCCEEDED]
    assert done, "one of them ran"
    assert ctx.sync_lock(str(connection.pk)).holder() is None
