"""The optimizer's scenario on a sandbox world, through real workers: an expensive ad, a fatigued
creative, a winning ad set, an ad set still learning and one changed an hour ago are built in
the sandbox (performance profiles, learning stages, a change through its control API), synced,
and evaluated after the performance sync. ``recommend`` proposes exactly the right actions with
their evidence and nothing for the learning or changed ones, a second evaluation nothing new;
``apply`` writes them to the sandbox once (a redelivered task acts once), the mirror follows,
the audit log holds before and after, and undo restores both."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery

from metasync.embedded import Workers
from metasync.models import (
    Ad,
    AdSet,
    AuditEntry,
    MetaConnection,
    OptimizerStream,
    Recommendation,
    SyncRun,
)
from metasync.optimize.figures import number
from metasync.optimize.settings import set_mode, set_rules
from metasync.optimize.undo import undo_recommendation
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext
from tests.e2e.test_entity_sync_workers import enqueue
from tests.support.sandbox import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

RULES = """
- kind: cost_per_conversion
  target: 5
- kind: return_on_spend
  target: 3
  days: 3
- kind: creative_fatigue
- kind: learning_limited
"""
# account currency per 1,000 impressions, clicks per impression, purchases per click, ...
# a conversion costs 1.25 (a quarter of the cost rule's target), a return of 1.6 (below 3)
BASELINE = {"cpm": 10, "ctr": 0.02, "purchase_rate": 0.4, "order_value": 2, "frequency": 1.5}
PROFILES = {
    # spends (at a high price, so it takes most of its campaign's capped budget), never converts
    "expensive": {**BASELINE, "cpm": 200, "purchase_rate": 0.0},
    # clicks often enough to be measured in both weeks even on its starved share of the budget
    "fatigued": {"cpm": 4, "ctr": 0.2, "purchase_rate": 0.5, "frequency": 4, "ctr_decay": 0.8},
    "winning": {**BASELINE, "order_value": 50},  # a return of about 40 on spend
}


@pytest.fixture
def world_size() -> WorldSize:
    """One account over 28 days: two weeks of history for the fatigue rule's comparison."""
    return WorldSize(
        users=1,
        accounts_per_user=1,
        campaigns_per_account=4,
        adsets_per_campaign=2,
        ads_per_adset=3,
        days=28,
    )


def _roles(world: Sandbox) -> dict[str, Any]:
    """Ad sets and ads of the world for each part of the scenario."""
    truth = world.truth()
    active_ads: dict[str, list[str]] = {}
    for ad in truth["ads"]:
        if ad["effective_status"] == "ACTIVE":
            active_ads.setdefault(ad["adset_id"], []).append(ad["id"])
    live = [s for s in truth["adsets"] if s["effective_status"] == "ACTIVE"]
    own = [s for s in live if s.get("daily_budget") and len(active_ads.get(s["id"], [])) >= 2]
    shared = [s for s in live if not s.get("daily_budget") and active_ads.get(s["id"])]
    testing = next(s for s in shared if len(active_ads[s["id"]]) >= 2)
    learning = next(s for s in shared if s is not testing)
    # the fatigue rule compares the last week with the week before: the fatigued ad is the one
    # of the testing ad set (besides the expensive one) that has delivered longest, so it has
    # both weeks whatever day the world is generated on
    first_day: dict[str, str] = {}
    for row in truth["insights"]["ad"]:
        if int(row["impressions"]) > 0:
            day = first_day.get(row["ad_id"], row["date_start"])
            first_day[row["ad_id"]] = min(day, row["date_start"])
    expensive, *others = active_ads[testing["id"]]
    fatigued = min(others, key=lambda ad_id: first_day.get(ad_id, "9999"))
    return {
        "ads": truth["ads"],
        "live_adsets": live,
        "winning": own[0],
        "changed": own[1],
        "expensive": expensive,
        "fatigued": fatigued,
        "learning": learning,
    }


def _build(world: Sandbox, roles: dict[str, Any]) -> None:
    def mutate(object_id: str, action: str, fields: dict[str, Any]) -> None:
        world.control("POST", "mutate", {"id": object_id, "action": action, "fields": fields})

    for ad in roles["ads"]:
        adset = ad["adset_id"]
        if adset in (roles["winning"]["id"], roles["changed"]["id"]):
            profile = PROFILES["winning"]
        elif adset == roles["learning"]["id"]:
            profile = PROFILES["expensive"]  # would be paused, but its ad set is learning
        elif ad["id"] in (roles["expensive"], roles["fatigued"]):
            profile = PROFILES["expensive" if ad["id"] == roles["expensive"] else "fatigued"]
        else:
            profile = BASELINE
        mutate(ad["id"], "performance", profile)
    for adset in roles["live_adsets"]:
        learning = adset["id"] == roles["learning"]["id"]
        mutate(adset["id"], "learning", {"status": "LEARNING" if learning else "SUCCESS"})
    mutate(roles["changed"]["id"], "update", {"name": "Renamed an hour ago"})


def _diagnosis(tenant: str, ad_id: str) -> str:
    proposed = [(r.kind, r.entity_id) for r in Recommendation.objects(tenant_id=tenant)]
    stream = OptimizerStream.objects(tenant_id=tenant, entity_id=ad_id).first()
    found = stream.to_mongo().to_dict() if stream is not None else None
    return f"proposed only {proposed}; the expensive ad's stream: {found}"


def _until(check: Callable[[], bool], what: str | Callable[[], str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what() if callable(what) else what
        time.sleep(0.3)


def _sync(
    celery_client: Celery,
    connection: MetaConnection,
    wait_for_runs: Callable[..., list[SyncRun]],
    count: int,
    **kwargs: object,
) -> None:
    enqueue(celery_client, connection, **kwargs)
    runs = wait_for_runs(count)
    assert all(r.status == "succeeded" for r in runs), [r.errors for r in runs]


def test_recommend_then_apply_on_a_sandbox_world(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    [connection] = connections
    tenant = connection.tenant_id
    roles = _roles(world)
    _build(world, roles)
    set_rules(tenant, RULES, by="test")
    _sync(celery_client, connection, wait_for_runs, 1, full=True)
    _sync(celery_client, connection, wait_for_runs, 2, kind="performance",
          period={"preset": "last_28d"})  # fmt: skip
    # the finished performance sync evaluates the rules: exactly these three, with evidence
    _until(
        lambda: Recommendation.objects(tenant_id=tenant).count() >= 3,
        lambda: _diagnosis(tenant, roles["expensive"]),
    )
    time.sleep(2)
    found = {(r.kind, r.entity_id): r for r in Recommendation.objects(tenant_id=tenant)}
    assert set(found) == {
        ("cost_per_conversion", roles["expensive"]),
        ("creative_fatigue", roles["fatigued"]),
        ("return_on_spend", roles["winning"]["id"]),
    }, "nothing for the learning ad set's ads or the ad set changed an hour ago"
    pause = found[("cost_per_conversion", roles["expensive"])]
    assert pause.evidence["conversions"] == 0 and pause.change == {"status": "PAUSED"}
    assert pause.evidence["cost_per_conversion"]["low"] > 5
    assert pause.evidence["log_evidence"] >= pause.evidence["threshold"]
    fatigue = found[("creative_fatigue", roles["fatigued"])]
    assert fatigue.evidence["frequency"] > 3
    assert fatigue.evidence["ctr_recent"] < 0.7 * fatigue.evidence["ctr_before"]
    budget = int(roles["winning"]["daily_budget"])
    raise_ = found[("return_on_spend", roles["winning"]["id"])]
    assert raise_.evidence["return_on_spend"]["low"] > 3
    assert raise_.change == {"daily_budget": int(budget * 1.2)}
    assert {r.state for r in found.values()} == {"proposed"}
    # a second evaluation (on demand) proposes nothing new
    celery_client.send_task("metasync.evaluate_rules", kwargs={"tenant_id": tenant})
    time.sleep(3)
    assert Recommendation.objects(tenant_id=tenant).count() == 3

    # apply mode: the next evaluation approves what its evidence still supports, and applies it
    set_mode(tenant, "apply", by="test")
    celery_client.send_task("metasync.evaluate_rules", kwargs={"tenant_id": tenant})

    def states() -> set[str]:
        return {
            r.state for r in Recommendation.objects(tenant_id=tenant, kind__ne="creative_fatigue")
        }

    _until(lambda: states() == {"applied"}, "the pause and the raise were not applied")
    message = {"tenant_id": tenant, "recommendation_id": str(pause.pk)}
    celery_client.send_task("metasync.apply_recommendation", kwargs=message)  # redelivered
    time.sleep(2)
    audit = {(e.entity_id, e.field, e.old_value, e.read_back) for e in AuditEntry.objects()}
    assert audit == {
        (roles["expensive"], "status", "ACTIVE", "PAUSED"),
        (roles["winning"]["id"], "daily_budget", str(budget), str(int(budget * 1.2))),
    }, "each applied once, before and after recorded"
    assert Recommendation.objects.get(pk=fatigue.pk).state == "proposed", "a flag is not applied"
    assert world.get(roles["expensive"], fields="status").json()["status"] == "PAUSED"
    # the mirror follows at the next entity sync
    _sync(celery_client, connection, wait_for_runs, 3, full=True)
    assert Ad.objects.get(tenant_id=tenant, meta_id=roles["expensive"]).status == "PAUSED"
    mirrored = AdSet.objects.get(tenant_id=tenant, meta_id=roles["winning"]["id"]).daily_budget
    assert round(number(mirrored) * 100) == int(budget * 1.2)
    # undo restores both in the sandbox
    for applied in (pause, raise_):
        assert undo_recommendation(ctx, tenant, str(applied.pk), by="op").state == "undone"
    assert world.get(roles["expensive"], fields="status").json()["status"] == "ACTIVE"
    restored = world.get(roles["winning"]["id"], fields="daily_budget").json()["daily_budget"]
    assert restored == str(budget)
