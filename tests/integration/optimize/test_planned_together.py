"""One evaluation's raise and reallocation on the same ad set both stand: the evaluation plans
the reallocation after the raise, the reallocation waits until the raise is written, then moves
its amount from the budgets Meta holds (the raise's own write is not someone's change)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from metasync.models import (
    AdAccount,
    AdSet,
    MetaConnection,
    OptimizerSettings,
    Recommendation,
    utcnow,
)
from metasync.optimize.apply import apply_recommendation
from metasync.optimize.claims import ApplyBusy
from metasync.optimize.evaluate import evaluate_tenant
from metasync.optimize.outcome import outcome
from metasync.optimize.settings import set_mode, set_rules
from metasync.sync import SyncContext
from tests.support.optimizer_mirror import NOW, rows
from tests.support.optimizer_writes import live_adsets
from tests.support.sandbox import Sandbox

RULES = """
- kind: budget_reallocation
- kind: return_on_spend
  target: 2
"""


def test_the_evaluation_plans_a_reallocation_after_the_raise_of_its_receiver(mongo: str) -> None:
    AdAccount(
        tenant_id="t1", meta_id="act_1", account_id="1", currency="USD", timezone_name="UTC"
    ).save()
    for meta_id, budget in (("s-dear", "100.00"), ("s-cheap", "50.00")):
        AdSet(
            tenant_id="t1",
            meta_id=meta_id,
            account_id="1",
            campaign_id="c1",
            status="ACTIVE",
            effective_status="ACTIVE",
            updated_time=NOW - timedelta(days=30),
            learning_stage_info={"status": "SUCCESS"},
            daily_budget=Decimal(budget),
        ).save()
    rows("t1", "adset", "s-dear", 21, spend=100, conversions=2)  # 50 a conversion
    rows("t1", "adset", "s-cheap", 21, spend=100, conversions=20, revenue=1000)  # returns 10x
    set_rules("t1", RULES, by="test")
    result = evaluate_tenant("t1", now=NOW)
    [raised] = Recommendation.objects(tenant_id="t1", action="raise_budget")
    [move] = Recommendation.objects(tenant_id="t1", action="reallocate_budget")
    assert (raised.entity_id, move.evidence["to"]["entity_id"]) == ("s-cheap", "s-cheap")
    assert move.evidence["follows"] == [
        {"entity_id": "s-cheap", "recommendation_id": str(raised.pk)}
    ]
    assert result.proposed == [str(raised.pk), str(move.pk)], "the raise first"


def test_a_reallocation_planned_after_a_raise_waits_for_it_and_both_stand(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    tenant, account = connection.tenant_id, connection.ad_account_ids[0]
    giver, receiver = live_adsets(world, account)
    given, received = int(giver["daily_budget"]), int(receiver["daily_budget"])
    moved = int(0.2 * min(given, received))
    raise_id = str(
        Recommendation(
            tenant_id=tenant,
            key="raise",
            account_id=account,
            level="adset",
            entity_id=receiver["id"],
            rule="return",
            kind="return_on_spend",
            action="raise_budget",
            state="approved",
            change={"daily_budget": int(received * 1.1)},
            evidence={"daily_budget": received},
        )
        .save()
        .pk
    )
    move_id = str(
        Recommendation(
            tenant_id=tenant,
            key="move",
            account_id=account,
            level="adset",
            entity_id=giver["id"],
            rule="realloc",
            kind="budget_reallocation",
            action="reallocate_budget",
            state="approved",
            change={"daily_budget": given - moved},
            evidence={
                "daily_budget": str(given),
                "moved": moved,
                "to": {
                    "entity_id": receiver["id"],
                    "daily_budget": str(received),
                    "daily_budget_after": received + moved,
                },
                "follows": [{"entity_id": receiver["id"], "recommendation_id": raise_id}],
            },
        )
        .save()
        .pk
    )

    def budgets() -> tuple[int, int]:
        return tuple(  # type: ignore[return-value]
            int(world.get(s["id"], fields="daily_budget").json()["daily_budget"])
            for s in (giver, receiver)
        )

    world.control("POST", "counters")
    with pytest.raises(ApplyBusy, match=f"waits for recommendation {raise_id}"):
        apply_recommendation(ctx, tenant, move_id, by="optimizer")
    assert "POST /{id}" not in world.control("GET", "counters")["by_path"], "nothing written"
    assert Recommendation.objects.get(pk=move_id).state == "approved", "still to apply"
    assert apply_recommendation(ctx, tenant, raise_id, by="optimizer").state == "applied"
    raised = int(received * 1.1)
    assert budgets() == (given, raised)
    done = apply_recommendation(ctx, tenant, move_id, by="optimizer")
    assert done.state == "applied", done.error
    assert budgets() == (given - moved, raised + moved), "the raise and the move both stand"


def test_a_reallocation_planned_after_a_rejected_raise_expires_saying_why(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    tenant, account = connection.tenant_id, connection.ad_account_ids[0]
    giver, receiver = live_adsets(world, account)
    given = int(giver["daily_budget"])
    raise_id = str(
        Recommendation(
            tenant_id=tenant,
            key="raise",
            account_id=account,
            level="adset",
            entity_id=receiver["id"],
            rule="return",
            kind="return_on_spend",
            action="raise_budget",
            state="rejected",
            change={"daily_budget": 99999},
        )
        .save()
        .pk
    )
    move_id = str(
        Recommendation(
            tenant_id=tenant,
            key="move",
            account_id=account,
            level="adset",
            entity_id=giver["id"],
            rule="realloc",
            kind="budget_reallocation",
            action="reallocate_budget",
            state="approved",
            change={"daily_budget": given - 100},
            evidence={
                "daily_budget": str(given),
                "to": {
                    "entity_id": receiver["id"],
                    "daily_budget": receiver["daily_budget"],
                    "daily_budget_after": int(receiver["daily_budget"]) + 100,
                },
                "follows": [{"entity_id": receiver["id"], "recommendation_id": raise_id}],
            },
        )
        .save()
        .pk
    )
    world.control("POST", "counters")
    done = apply_recommendation(ctx, tenant, move_id, by="optimizer")
    assert done.state == "expired" and f"{raise_id}" in done.error and "rejected" in done.error
    assert "POST /{id}" not in world.control("GET", "counters")["by_path"]
    # a raise the daily cap holds until tomorrow: the reallocation waits as long, approved
    Recommendation.objects(pk=raise_id).update_one(
        set__state="approved", set__waiting_until=utcnow() + timedelta(hours=5)
    )
    Recommendation.objects(pk=move_id).update_one(set__state="approved")
    held = apply_recommendation(ctx, tenant, move_id, by="optimizer")
    assert held.state == "approved" and held.waiting_until is not None, held.error
    assert outcome(held).ok and "daily cap" in held.error
    assert "POST /{id}" not in world.control("GET", "counters")["by_path"]


def test_the_cli_in_apply_mode_tells_a_wait_from_a_write(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``rules evaluate`` in apply mode: the raise is written first; with one action a day
    the reallocation planned after it waits, and the summary says so (before: counted as
    applied); the next day's slot writes it, and both stand."""
    from metasync.commands.optimize import apply_proposals

    connection = connections[0]
    tenant = connection.tenant_id
    set_mode(tenant, "apply", by="test")

    def proposals(key: str, giver: dict[str, Any], receiver: dict[str, Any]) -> list[str]:
        account = giver["account_id"]
        given, received = int(giver["daily_budget"]), int(receiver["daily_budget"])
        raise_rec = Recommendation(
            tenant_id=tenant,
            key=f"{key}-raise",
            account_id=account,
            level="adset",
            entity_id=receiver["id"],
            rule="return",
            kind="return_on_spend",
            action="raise_budget",
            change={"daily_budget": int(received * 1.1)},
            evidence={"daily_budget": received},
        ).save()
        move = Recommendation(
            tenant_id=tenant,
            key=f"{key}-move",
            account_id=account,
            level="adset",
            entity_id=giver["id"],
            rule="realloc",
            kind="budget_reallocation",
            action="reallocate_budget",
            change={"daily_budget": given - 100},
            evidence={
                "daily_budget": str(given),
                "to": {
                    "entity_id": receiver["id"],
                    "daily_budget": str(received),
                    "daily_budget_after": received + 100,
                },
                "follows": [{"entity_id": receiver["id"], "recommendation_id": str(raise_rec.pk)}],
            },
        ).save()
        return [str(raise_rec.pk), str(move.pk)]

    giver, receiver = live_adsets(world, connection.ad_account_ids[0])
    # one action a day: the raise takes it, the move waits for tomorrow
    OptimizerSettings.objects(tenant_id=tenant).update_one(set__max_actions_per_account_day=1)
    raise_id, move_id = proposals("a", giver, receiver)
    assert apply_proposals(ctx, tenant, [raise_id, move_id])
    out = capsys.readouterr().out
    assert f"recommendation {raise_id}: applied" in out.splitlines()
    assert f"recommendation {move_id}: approved, waiting: " in out
    assert "apply mode: 1 applied, 1 waiting, 0 failed, 0 not for" in out, out
    # the next day's slot: the move planned after the raise is written, and both stand
    OptimizerSettings.objects(tenant_id=tenant).update_one(set__max_actions_per_account_day=5)
    done = apply_recommendation(ctx, tenant, move_id, by="optimizer")
    assert done.state == "applied", done.error
    raised = int(int(receiver["daily_budget"]) * 1.1)
    assert int(world.get(receiver["id"], fields="daily_budget").json()["daily_budget"]) == (
        raised + 100
    )
    assert world.get(giver["id"], fields="daily_budget").json()["daily_budget"] == str(
        int(giver["daily_budget"]) - 100
    )
