"""The write-back's guards against the sandbox as a real HTTP server: the daily cap holds under
concurrent applies, a lost answer is recognised by the next attempt, a lease expires, undo reads
Meta's activity log, and legacy Advantage+ campaigns are left alone."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from metasync.config import load_settings
from metasync.graph import MetaAPIError
from metasync.models import AuditEntry, MetaConnection, OptimizerSettings, Recommendation, utcnow
from metasync.optimize.apply import apply_recommendation
from metasync.optimize.claims import ApplyBusy, stale_applies
from metasync.optimize.settings import RecommendationError
from metasync.optimize.undo import undo_recommendation
from metasync.sync import SyncContext
from tests.support.optimizer_writes import (
    approved_pause,
    approved_reallocation,
    audit_matches_meta,
    live_adsets,
)
from tests.support.sandbox import Sandbox


def _live_ads(world: Sandbox, account: str, count: int) -> list[str]:
    return [
        a["id"]
        for a in world.truth()["ads"]
        if a["account_id"] == account and a["effective_status"] == "ACTIVE"
    ][:count]


def _status(world: Sandbox, entity: str) -> str:
    return str(world.get(entity, fields="status").json()["status"])


def test_the_daily_cap_holds_when_applies_run_at_once(
    sync_env: dict[str, str], world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    OptimizerSettings(tenant_id=connection.tenant_id, max_actions_per_account_day=1).save()
    ads = _live_ads(world, connection.ad_account_ids[0], 4)
    recs = [approved_pause(connection, ad, key=f"pause-{ad}") for ad in ads]
    start = threading.Barrier(len(recs))
    errors: list[BaseException] = []

    def apply(rec: str) -> None:
        ctx = SyncContext.from_settings(load_settings(sync_env))  # a worker of its own
        start.wait()
        try:
            apply_recommendation(ctx, connection.tenant_id, rec, by="op")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=apply, args=(rec,)) for rec in recs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    states = sorted(Recommendation.objects.get(pk=rec).state for rec in recs)
    assert states == ["applied", "approved", "approved", "approved"]
    assert sum(_status(world, ad) == "PAUSED" for ad in ads) == 1, "one write, not four"
    waiting = Recommendation.objects(pk__in=recs, state="approved")
    assert all("had its 1 actions today" in r.error for r in waiting)
    # tomorrow the recovery sends them again (each then meets the new day's cap)
    assert stale_applies(60) == []
    waiting.update(set__waiting_until=utcnow() - timedelta(seconds=1))
    assert len(stale_applies(60)) == 3


def test_a_lost_answer_is_recognised_and_a_dead_lease_taken_over(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    [ad] = _live_ads(world, connection.ad_account_ids[0], 1)
    world.control("POST", "faults", {"write_faults": [{"id": ad, "kind": "lost", "times": 9}]})
    rec = approved_pause(connection, ad)
    with pytest.raises(MetaAPIError):
        apply_recommendation(ctx, connection.tenant_id, rec, by="op", final_attempt=False)
    assert _status(world, ad) == "PAUSED", "the write reached Meta; its answer did not"
    found = Recommendation.objects.get(pk=rec)
    assert (found.state, found.claimed_at) == ("approved", None), "the lease was given back"
    assert found.plan == [{"level": "ad", "entity_id": ad, "before": {"status": "ACTIVE"},
                           "after": {"status": "PAUSED"}}]  # fmt: skip
    [intent] = AuditEntry.objects(recommendation_id=rec)
    assert (intent.state, intent.old_value, intent.new_value) == ("intended", "ACTIVE", "PAUSED")
    assert [r.pk for r in stale_applies(60)] == [found.pk], "the recovery will take it over"
    # a worker that died holding the lease: nobody else writes until the lease expires
    Recommendation.objects(pk=rec).update_one(set__claimed_at=utcnow(), set__claim="dead")
    with pytest.raises(ApplyBusy):
        apply_recommendation(ctx, connection.tenant_id, rec, by="op")
    lease = ctx.settings.OPTIMIZER_LEASE_SECONDS
    Recommendation.objects(pk=rec).update_one(
        set__claimed_at=utcnow() - timedelta(seconds=lease + 1)
    )
    world.control("POST", "counters")
    applied = apply_recommendation(ctx, connection.tenant_id, rec, by="op")
    assert applied.state == "applied" and applied.claimed_at is None
    assert world.control("GET", "counters")["by_path"].get("POST /{id}") is None, (
        "Meta already held the intended value: confirmed, not written again"
    )
    assert audit_matches_meta(world, rec) == []


def test_undo_refuses_when_someone_touched_the_entity_after_the_optimizer(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    ad, other = _live_ads(world, connection.ad_account_ids[0], 2)
    touched = approved_pause(connection, ad, key="touched")
    assert apply_recommendation(ctx, connection.tenant_id, touched, by="op").state == "applied"
    # a person re-enables it and pauses it again: it holds what the optimizer wrote, but the
    # pause is theirs now
    for action in ("activate", "pause"):
        world.control("POST", "mutate", {"id": ad, "action": action})
    world.control("POST", "counters")
    with pytest.raises(RecommendationError, match="changed after the optimizer's write"):
        undo_recommendation(ctx, connection.tenant_id, touched, by="op")
    assert "POST /{id}" not in world.control("GET", "counters")["by_path"]
    assert _status(world, ad) == "PAUSED"
    found = Recommendation.objects.get(pk=touched)
    assert (found.state, found.claimed_at) == ("applied", None)
    # untouched: undone, and the undo is audited like the write
    clean = approved_pause(connection, other, key="clean")
    assert apply_recommendation(ctx, connection.tenant_id, clean, by="op").state == "applied"
    assert undo_recommendation(ctx, connection.tenant_id, clean, by="op").state == "undone"
    assert _status(world, other) == "ACTIVE"
    assert audit_matches_meta(world, clean) == []


def test_legacy_advantage_campaigns_are_not_written(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    [ad_id] = _live_ads(world, connection.ad_account_ids[0], 1)
    ad = next(a for a in world.truth()["ads"] if a["id"] == ad_id)
    world.control(
        "POST",
        "mutate",
        {"id": ad["campaign_id"], "action": "update",
         "fields": {"smart_promotion_type": "AUTOMATED_SHOPPING_ADS"}},
    )  # fmt: skip
    OptimizerSettings(tenant_id=connection.tenant_id, quiet_hours=0).save()
    rec = approved_pause(connection, ad_id)
    failed = apply_recommendation(ctx, connection.tenant_id, rec, by="op")
    assert failed.state == "failed", "Meta refused it: not expired, and not tried again alone"
    assert "legacy Advantage+ shopping and app campaigns" in failed.error
    assert failed.failure["type"] == "InvalidRequestError"
    assert _status(world, ad_id) == "ACTIVE"
    assert audit_matches_meta(world, rec) == []
    assert {e.state for e in AuditEntry.objects(recommendation_id=rec)} == {"refused"}


def test_a_recommendation_applied_before_plans_existed_can_be_undone(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    [ad] = _live_ads(world, connection.ad_account_ids[0], 1)
    rec = approved_pause(connection, ad)
    assert world.post(ad, token=world.user()["token"], status="PAUSED").status_code == 200
    Recommendation.objects(pk=rec).update_one(set__state="applied", set__applied_at=utcnow())
    AuditEntry._get_collection().insert_one(  # as the write-back stored it: no step, no state
        {"tenant_id": connection.tenant_id, "recommendation_id": rec,
         "account_id": connection.ad_account_ids[0], "level": "ad", "entity_id": ad,
         "action": "apply", "field": "status", "old_value": "ACTIVE", "new_value": "PAUSED",
         "read_back": "PAUSED", "by": "op", "at": utcnow()}
    )  # fmt: skip
    assert undo_recommendation(ctx, connection.tenant_id, rec, by="op").state == "undone"
    assert _status(world, ad) == "ACTIVE"


def test_an_attempt_that_dies_taking_back_is_finished_by_the_next(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    giver, receiver = live_adsets(world, connection.ad_account_ids[0])
    total = sum(_budgets(world, giver, receiver))
    world.control("POST", "faults", {"write_faults": [
        {"id": receiver["id"], "kind": "invalid"},  # Meta refuses the raise for good
        {"id": giver["id"], "kind": "error", "skip": 1, "times": 9},  # taking back fails
    ]})  # fmt: skip
    rec, _ = approved_reallocation(connection, giver, receiver)
    with pytest.raises(MetaAPIError):
        apply_recommendation(ctx, connection.tenant_id, rec, by="op", final_attempt=False)
    stopped = Recommendation.objects.get(pk=rec)
    assert stopped.state == "approved" and "taken back" in stopped.gave_up
    assert sum(_budgets(world, giver, receiver)) < total, "the giver is still lowered"
    world.control("POST", "faults", {"write_faults": []})
    world.control("POST", "counters")
    ended = apply_recommendation(ctx, connection.tenant_id, rec, by="op")
    assert ended.state == "compensated" and ended.claimed_at is None
    assert sum(_budgets(world, giver, receiver)) == total, "the total is what it was"
    assert world.control("GET", "counters")["by_path"]["POST /{id}"] == 1, (
        "the giver taken back, the receiver not tried again"
    )
    assert audit_matches_meta(world, rec) == []


def _budgets(world: Sandbox, *adsets: dict[str, Any]) -> list[int]:
    return [int(world.get(s["id"], fields="daily_budget").json()["daily_budget"]) for s in adsets]


def test_a_lost_answer_on_the_last_attempt_is_confirmed_not_taken_back(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    giver, receiver = live_adsets(world, connection.ad_account_ids[0])
    world.control(
        "POST", "faults", {"write_faults": [{"id": receiver["id"], "kind": "lost", "times": 9}]}
    )
    rec, moved = approved_reallocation(connection, giver, receiver)
    applied = apply_recommendation(ctx, connection.tenant_id, rec, by="op", final_attempt=True)
    assert applied.state == "applied", applied.error
    assert _budgets(world, giver, receiver) == [
        int(giver["daily_budget"]) - moved, int(receiver["daily_budget"]) + moved]  # fmt: skip
    assert audit_matches_meta(world, rec) == []
