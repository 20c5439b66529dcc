"""A worker killed between closing a refused write's intent and moving its recommendation's
state: the recovery (or the redelivered task) ends it as the refusal would have, without
POSTing to Meta again (the sandbox as a real HTTP server, its write calls counted)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from metasync.models import AuditEntry, MetaConnection, Recommendation, utcnow
from metasync.optimize import apply as apply_module
from metasync.optimize import undo as undo_module
from metasync.optimize.apply import apply_recommendation
from metasync.optimize.undo import undo_recommendation
from metasync.sync import SyncContext
from tests.integration.optimize.test_refusals import FOR_GOOD, _posts, _recovery_pass
from tests.support.optimizer_writes import (
    approved_pause,
    approved_reallocation,
    audit_matches_meta,
    live_adsets,
)
from tests.support.sandbox import Sandbox


class Killed(BaseException):
    """The worker dies (a time limit, a lost node): nothing after this line runs."""


def _killed_moving_to(
    monkeypatch: pytest.MonkeyPatch, module: Any, states: tuple[str, ...]
) -> None:
    """Kill the worker the first time ``module`` is about to move a recommendation to one of
    ``states`` (its intents already closed ``refused``)."""
    real: Callable[..., None] = module.release
    killed: list[bool] = []

    def release(rec: Recommendation, claim: str, **updates: Any) -> None:
        if updates.get("set__state") in states and not killed:
            killed.append(True)
            raise Killed
        real(rec, claim, **updates)

    monkeypatch.setattr(module, "release", release)


def _lease_expires(ctx: SyncContext, rec: str) -> None:
    gone = utcnow() - timedelta(seconds=ctx.settings.OPTIMIZER_LEASE_SECONDS + 1)
    Recommendation.objects(pk=rec).update_one(set__claimed_at=gone)


def _active_ad(world: Sandbox, account: str) -> dict[str, Any]:
    return next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] == account and a["effective_status"] == "ACTIVE"
    )


def test_a_take_back_refused_then_killed_is_not_posted_again_by_the_recovery(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = connections[0]
    giver, receiver = live_adsets(world, connection.ad_account_ids[0])
    faults = [
        {"id": receiver["id"], "kind": "invalid"},  # the raise is refused: take the cut back
        {"id": giver["id"], "kind": "permission", "skip": 1, "times": FOR_GOOD},
    ]
    world.control("POST", "faults", {"write_faults": faults})
    rec, moved = approved_reallocation(connection, giver, receiver)
    world.control("POST", "counters")
    _killed_moving_to(monkeypatch, apply_module, ("restore_refused",))
    with pytest.raises(Killed):
        apply_recommendation(ctx, connection.tenant_id, rec, by="op")
    assert _posts(world) == 3, "the cut, the refused raise, the refused take-back"
    assert Recommendation.objects.get(pk=rec).state == "approved", "killed before the move"
    _lease_expires(ctx, rec)
    assert _recovery_pass(ctx) == 1, "the recovery takes the dead attempt over"
    assert _posts(world) == 3, "and does not POST the refused take-back again"
    ended = Recommendation.objects.get(pk=rec)
    assert ended.state == "restore_refused", ended.error
    report = {e["entity_id"]: e for e in ended.restore}
    assert report[giver["id"]]["not_restored"] == {"daily_budget": str(giver["daily_budget"])}
    assert report[giver["id"]]["meta"] == {"daily_budget": str(int(giver["daily_budget"]) - moved)}
    assert _recovery_pass(ctx) == 0 and _posts(world) == 3
    assert audit_matches_meta(world, rec) == []


def test_an_apply_refused_then_killed_is_not_posted_again_by_the_recovery(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = connections[0]
    ad = _active_ad(world, connection.ad_account_ids[0])
    faults = [{"id": ad["id"], "kind": "permission", "times": FOR_GOOD}]
    world.control("POST", "faults", {"write_faults": faults})
    rec = approved_pause(connection, ad["id"])
    world.control("POST", "counters")
    _killed_moving_to(monkeypatch, apply_module, ("failed",))
    with pytest.raises(Killed):
        apply_recommendation(ctx, connection.tenant_id, rec, by="op")
    assert _posts(world) == 1
    _lease_expires(ctx, rec)
    assert _recovery_pass(ctx) == 1
    assert _posts(world) == 1, "the refused apply is not POSTed again"
    ended = Recommendation.objects.get(pk=rec)
    assert ended.state == "failed", ended.error
    assert "(#200) Requires ads_management" in (ended.error or "")
    assert ended.failure and ended.failure["refused_for_good"] and ended.failure["permission"]
    assert {(e.action, e.state) for e in AuditEntry.objects(recommendation_id=rec)} == {
        ("apply", "refused")
    }
    # the permission granted, the operator applies the same recommendation again
    world.control("POST", "faults", {"write_faults": []})
    assert apply_recommendation(ctx, connection.tenant_id, rec, by="op").state == "applied"
    assert _posts(world) == 2
    assert audit_matches_meta(world, rec) == []


def test_an_undo_refused_then_killed_is_not_posted_again_when_redelivered(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = connections[0]
    ad = _active_ad(world, connection.ad_account_ids[0])
    rec = approved_pause(connection, ad["id"])
    assert apply_recommendation(ctx, connection.tenant_id, rec, by="op").state == "applied"
    faults = [{"id": ad["id"], "kind": "permission", "times": FOR_GOOD}]
    world.control("POST", "faults", {"write_faults": faults})
    world.control("POST", "counters")
    _killed_moving_to(monkeypatch, undo_module, ("restore_refused",))
    with pytest.raises(Killed):
        undo_recommendation(ctx, connection.tenant_id, rec, by="op")
    assert _posts(world) == 1
    _lease_expires(ctx, rec)
    ended = undo_recommendation(ctx, connection.tenant_id, rec, by="op")  # the task again
    assert _posts(world) == 1, "the refused take-back is not POSTed again"
    assert ended.state == "restore_refused", ended.error
    [entity] = ended.restore
    assert entity["not_restored"] == {"status": "ACTIVE"}
    # once the cause is fixed, the operator's undo does write it back
    world.control("POST", "faults", {"write_faults": []})
    assert undo_recommendation(ctx, connection.tenant_id, rec, by="op").state == "undone"
    assert _posts(world) == 2
    assert audit_matches_meta(world, rec) == []
