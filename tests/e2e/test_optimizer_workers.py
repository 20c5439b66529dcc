"""The optimizer through real workers: the scheduled task evaluates every tenant whose
optimizer is on; a second call in the same schedule slot (a second beat) does nothing, and an
evaluation on demand always runs."""

from __future__ import annotations

import time

import pytest
from celery import Celery

from metasync.config import load_settings
from metasync.embedded import Workers
from metasync.models import Recommendation
from metasync.optimize.settings import set_mode, set_rules
from metasync.sync import SyncContext
from tests.support.optimizer_mirror import RULES, build_mirror
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
    scheduled = beat_schedule(load_settings(sync_env))["rules-optimizer"]["kwargs"]
    celery_client.send_task("metasync.evaluate_rules", kwargs=scheduled)
    # the 4-hourly schedule runs cost and return rules: the expensive ad and the winning ad set
    assert _count_becomes("on", 2) == 2
    kinds = {r.kind for r in Recommendation.objects(tenant_id="on")}
    assert kinds == {"cost_per_conversion", "return_on_spend"}
    assert Recommendation.objects(tenant_id="off").count() == 0, "an optimizer off proposes nothing"
    Recommendation.objects(tenant_id="on").delete()
    celery_client.send_task("metasync.evaluate_rules", kwargs=scheduled)
    time.sleep(3)  # a second call in the slot would have proposed them again by now
    assert Recommendation.objects(tenant_id="on").count() == 0
    celery_client.send_task("metasync.evaluate_rules", kwargs={"tenant_id": "on"})
    assert _count_becomes("on", 4) == 4, "on demand: every rule, no slot"
