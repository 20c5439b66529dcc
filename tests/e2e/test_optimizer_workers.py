"""The optimizer through real workers: the scheduled task evaluates every tenant whose
optimizer is on; a second call in the same schedule slot (a second beat) does nothing, an
evaluation on demand always runs; an apply delivered twice writes to Meta once."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from celery import Celery

from metasync.config import load_settings
from metasync.embedded import Workers
from metasync.models import (
    Ad,
    AuditEntry,
    MetaConnection,
    OptimizerSettings,
    Recommendation,
    RunStatus,
    SyncRun,
)
from metasync.optimize.settings import set_mode, set_rules
from metasync.sync import SyncContext, run_inline
from tests.e2e.test_entity_sync_workers import enqueue
from tests.support.optimizer_mirror import RULES, build_mirror
from tests.support.sandbox import Sandbox
from workers.beat import beat_schedule

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _count_becomes(tenant: str, expected: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = Recommendation.objects(tenant_id=tenant).count()
        if found == expected:
            return int(found)
        time.sleep(0.2)
    return int(Recommendation.objects(tenant_id=tenant).count())


def test_scheduled_evaluation_proposes_for_tenants_that_are_on_once_a_slot(
    ctx: SyncContext, sync_env: dict[str, str], workers: Workers, celery_client: Celery
) -> None:
    for tenant in ("on", "off"):
        build_mirror(tenant)
        set_rules(tenant, RULES, by="test")
    set_mode("off", "off", by="test")
    # a tenant whose evaluation fails (rules stored before they were validated) comes first:
    # its failure is recorded, and the tenants after it are still evaluated
    OptimizerSettings(tenant_id="a-broken", rules_yaml="- kind: bogus\n").save()
    scheduled = beat_schedule(load_settings(sync_env))["rules-optimizer"]["kwargs"]
    celery_client.send_task("metasync.evaluate_rules", kwargs=scheduled)
    # the 4-hourly schedule runs cost and return rules: the expensive ad and the winning ad set
    assert _count_becomes("on", 2) == 2
    broken = OptimizerSettings.objects.get(tenant_id="a-broken")
    assert "kind must be one of" in broken.evaluation_error and broken.evaluation_failed_at
    kinds = {r.kind for r in Recommendation.objects(tenant_id="on")}
    assert kinds == {"cost_per_conversion", "return_on_spend"}
    assert Recommendation.objects(tenant_id="off").count() == 0, "an optimizer off proposes nothing"
    Recommendation.objects(tenant_id="on").delete()
    celery_client.send_task("metasync.evaluate_rules", kwargs=scheduled)
    time.sleep(3)  # a second call in the slot would have proposed them again by now
    assert Recommendation.objects(tenant_id="on").count() == 0
    celery_client.send_task("metasync.evaluate_rules", kwargs={"tenant_id": "on"})
    assert _count_becomes("on", 4) == 4, "on demand: every rule, no slot"


def test_an_apply_delivered_twice_acts_once_and_the_mirror_follows(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
) -> None:
    connection = connections[0]
    account = connection.ad_account_ids[0]
    ad = next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] == account and a["effective_status"] == "ACTIVE"
    )
    approved = Recommendation(
        tenant_id=connection.tenant_id,
        key="pause-once",
        account_id=account,
        level="ad",
        entity_id=ad["id"],
        rule="cost",
        kind="cost_per_conversion",
        action="pause",
        change={"status": "PAUSED"},
        state="approved",
    ).save()
    message = {"tenant_id": connection.tenant_id, "recommendation_id": str(approved.pk)}
    for _ in range(2):  # the broker delivers the same message twice
        celery_client.send_task("metasync.apply_recommendation", kwargs=message)
    deadline = time.monotonic() + 60
    while Recommendation.objects.get(pk=approved.pk).state != "applied":
        assert time.monotonic() < deadline, Recommendation.objects.get(pk=approved.pk).error
        time.sleep(0.2)
    time.sleep(2)  # the second delivery has had its turn
    assert AuditEntry.objects(recommendation_id=str(approved.pk)).count() == 1
    assert world.get(ad["id"], fields="status").json()["status"] == "PAUSED"
    run_inline(ctx, str(connection.pk), full=True)
    assert Ad.objects.get(tenant_id=connection.tenant_id, meta_id=ad["id"]).status == "PAUSED"


def test_a_finished_performance_sync_evaluates_the_tenants_rules(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    with_rules, without = connections[0], connections[1]
    set_rules(with_rules.tenant_id, "- kind: learning_limited\n", by="test")
    for connection in connections:
        enqueue(celery_client, connection, kind="performance", period={"preset": "last_3d"})
    runs = wait_for_runs(2, kind="performance")
    assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
    deadline = time.monotonic() + 30
    while OptimizerSettings.objects.get(tenant_id=with_rules.tenant_id).evaluated_at is None:
        assert time.monotonic() < deadline, "the rules were not evaluated after the sync"
        time.sleep(0.2)
    assert not OptimizerSettings.objects(tenant_id=without.tenant_id).count()
