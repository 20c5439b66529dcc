"""The optimizer's write-back under failure, with real worker processes and the sandbox as a
real HTTP server: a worker killed between its POST and the read-back, the second POST of a
reallocation failing (for a while, and for good), MongoDB restarted in the middle, and a soft
time limit. Each ends with Meta equal to the audit log, no lease left held, the total budget of
a reallocation unchanged or moved whole, and undo possible where something was applied."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from celery import Celery

from metasync.embedded import EmbeddedService, Workers, start_mongo
from metasync.models import AuditEntry, MetaConnection, OptimizerSettings, Recommendation
from metasync.optimize.undo import undo_recommendation
from metasync.sync import SyncContext
from tests.support.optimizer_writes import (
    approved_pause,
    approved_reallocation,
    audit_matches_meta,
    live_adsets,
)
from tests.support.sandbox import Sandbox
from tests.support.workers import QUICK_REDELIVERY_ENV, STALL_CHECK_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

LEASE = 6  # seconds: short, so a dead worker's lease is taken over within a test


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {
        **sync_env, **QUICK_REDELIVERY_ENV, **STALL_CHECK_ENV,
        "OPTIMIZER_LEASE_SECONDS": str(LEASE), "META_MAX_RETRIES": "1",
    }  # fmt: skip


@pytest.fixture
def mongo_uri(own_mongo: EmbeddedService) -> str:  # a server of its own, to restart
    return own_mongo.url


def _send(client: Celery, connection: MetaConnection, rec: str, **options: Any) -> None:
    client.send_task(
        "metasync.apply_recommendation",
        kwargs={"tenant_id": connection.tenant_id, "recommendation_id": rec},
        **options,
    )


def _settles(rec: str, states: tuple[str, ...], timeout: float = 90) -> Recommendation:
    """The recommendation once it reached one of ``states`` with no lease held."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):  # MongoDB may be restarting
            found = Recommendation.objects.get(pk=rec)
            if found.state in states and found.claimed_at is None:
                return found
        assert time.monotonic() < deadline, f"still {found.state}: {found.error}"
        time.sleep(0.3)


def _posts(world: Sandbox) -> int:
    return int(world.control("GET", "counters")["by_path"].get("POST /{id}", 0))


def _budgets(world: Sandbox, *adsets: dict[str, Any]) -> list[int]:
    return [int(world.get(s["id"], fields="daily_budget").json()["daily_budget"]) for s in adsets]


def _faults(world: Sandbox, *planned: dict[str, Any]) -> None:
    world.control("POST", "faults", {"write_faults": list(planned)})


def _reallocation(
    world: Sandbox, client: Celery, connection: MetaConnection, fault: dict[str, Any],
    **options: Any,
) -> tuple[str, int, list[dict[str, Any]], int]:  # fmt: skip
    """A reallocation between two live ad sets sent to the workers with ``fault`` planned on
    the receiver's write: its id, the amount moved, the two ad sets and their total before."""
    giver, receiver = live_adsets(world, connection.ad_account_ids[0])
    total = sum(_budgets(world, giver, receiver))
    _faults(world, {"id": receiver["id"], **fault})
    rec, moved = approved_reallocation(connection, giver, receiver)
    _send(client, connection, rec, **options)
    return rec, moved, [giver, receiver], total


@pytest.mark.usefixtures("recovery_beat")
def test_a_worker_killed_between_its_post_and_the_read_back(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
) -> None:
    connection = connections[0]
    ad = next(
        a for a in world.truth()["ads"]
        if a["account_id"] == connection.ad_account_ids[0] and a["effective_status"] == "ACTIVE"
    )  # fmt: skip
    _faults(world, {"id": ad["id"], "kind": "slow", "ms": 5000})  # written, answered in 5 s
    world.control("POST", "counters")
    rec = approved_pause(connection, ad["id"])
    _send(celery_client, connection, rec)
    deadline = time.monotonic() + 30
    while world.get(ad["id"], fields="status").json()["status"] != "PAUSED":
        assert time.monotonic() < deadline, "the POST never reached the sandbox"
        time.sleep(0.1)
    killed = 0
    for process in workers.processes:  # the pool child waiting for the answer
        for child in psutil.Process(process.pid).children():
            child.kill()
            killed += 1
    assert killed
    applied = _settles(rec, ("applied",))
    assert _posts(world) == 1, "the retry saw its own write in Meta and did not write again"
    assert audit_matches_meta(world, rec) == []
    [entry] = AuditEntry.objects(recommendation_id=rec, action="apply")
    assert (entry.old_value, entry.read_back) == ("ACTIVE", "PAUSED")
    assert applied.error is None
    assert undo_recommendation(ctx, connection.tenant_id, rec, by="op").state == "undone"
    assert world.get(ad["id"], fields="status").json()["status"] == "ACTIVE"


def test_a_failing_second_write_is_retried_or_compensated(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
) -> None:
    connection = connections[0]
    # for a while: five 500s on the receiver (the task retries; the giver's write is its own)
    rec, moved, (giver, receiver), total = _reallocation(
        world, celery_client, connection, {"kind": "error", "times": 5}
    )
    applied = _settles(rec, ("applied", "expired", "compensated"))
    assert applied.state == "applied", applied.error
    assert _budgets(world, giver, receiver) == [
        int(giver["daily_budget"]) - moved, int(receiver["daily_budget"]) + moved]  # fmt: skip
    assert audit_matches_meta(world, rec) == []
    assert undo_recommendation(ctx, connection.tenant_id, rec, by="op").state == "undone"
    assert sum(_budgets(world, giver, receiver)) == total
    # for good: Meta refuses the receiver's budget; the giver's write is taken back
    _faults(world, {"id": receiver["id"], "kind": "invalid", "times": 1})
    second, _ = approved_reallocation(connection, giver, receiver, key="again")
    # both were just changed (by the undo): a tenant without quiet hours may act at once
    OptimizerSettings(tenant_id=connection.tenant_id, quiet_hours=0).save()
    _send(celery_client, connection, second)
    ended = _settles(second, ("applied", "expired", "compensated"))
    assert ended.state == "compensated", ended.error
    assert "Invalid parameter" in ended.error and "taken back" in ended.error
    assert sum(_budgets(world, giver, receiver)) == total, "the total never drops"
    assert audit_matches_meta(world, second) == []
    actions = {(e.action, e.step, e.state) for e in AuditEntry.objects(recommendation_id=second)}
    assert actions == {("apply", 0, "written"), ("apply", 1, "refused"),
                       ("compensate", 0, "written")}  # fmt: skip
    assert ended.failure["type"] == "InvalidRequestError", "Meta's refusal is kept"


def test_mongodb_restarted_in_the_middle_of_a_reallocation(
    world: Sandbox,
    connections: list[MetaConnection],
    own_mongo: EmbeddedService,
    tmp_path: Path,
    workers: Workers,
    celery_client: Celery,
) -> None:
    connection = connections[0]
    rec, moved, (giver, receiver), total = _reallocation(
        world, celery_client, connection, {"kind": "slow", "ms": 4000}
    )
    deadline = time.monotonic() + 30
    while _budgets(world, receiver)[0] == int(receiver["daily_budget"]):
        assert time.monotonic() < deadline, "the second POST never reached the sandbox"
        time.sleep(0.1)
    own_mongo.stop()  # while the worker waits for the answer to its second POST
    time.sleep(2)
    own_mongo.process = start_mongo(tmp_path / "mongo", port=own_mongo.port).process
    applied = _settles(rec, ("applied", "expired", "compensated"))
    assert applied.state == "applied", applied.error
    assert sum(_budgets(world, giver, receiver)) == total
    assert _budgets(world, receiver) == [int(receiver["daily_budget"]) + moved]
    assert audit_matches_meta(world, rec) == []


@pytest.mark.usefixtures("recovery_beat")
def test_a_soft_time_limit_in_the_middle_of_a_reallocation(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
) -> None:
    rec, _, (giver, receiver), total = _reallocation(
        world, celery_client, connections[0], {"kind": "slow", "ms": 6000},
        soft_time_limit=2, time_limit=20,
    )  # fmt: skip
    connection = connections[0]
    applied = _settles(rec, ("applied", "expired", "compensated"))
    assert applied.state == "applied", applied.error
    assert sum(_budgets(world, giver, receiver)) == total
    assert audit_matches_meta(world, rec) == []
    assert undo_recommendation(ctx, connection.tenant_id, rec, by="op").state == "undone"
    assert _budgets(world, giver, receiver) == [
        int(giver["daily_budget"]), int(receiver["daily_budget"])]  # fmt: skip
