"""The guarded write-back against the sandbox as a real HTTP server: a pause and a capped
budget raise reach Meta once, are read back and audited, and undo restores them; a token
without ads_management, a recently changed entity and the daily limit each hold it back."""

from __future__ import annotations

from typing import Any

import pytest

from metasync.models import AuditEntry, MetaConnection, OptimizerSettings, Recommendation
from metasync.optimize.apply import apply_recommendation
from metasync.optimize.settings import RecommendationError
from metasync.optimize.undo import undo_recommendation
from metasync.sync import SyncContext
from metasync.sync.connections import add_connection
from tests.support.sandbox import Sandbox


def _targets(world: Sandbox, account: str) -> dict[str, dict[str, Any]]:
    truth = world.truth()
    with_budget = {c["id"] for c in truth["campaigns"] if c.get("daily_budget")}
    live = [
        a for a in truth["ads"] if a["account_id"] == account and a["effective_status"] == "ACTIVE"
    ]
    adset = next(
        s
        for s in truth["adsets"]
        if s["account_id"] == account
        and s["effective_status"] == "ACTIVE"
        and s["campaign_id"] not in with_budget
    )
    return {"ad": live[0], "other_ad": live[1], "adset": adset}


def _approved(connection: MetaConnection, level: str, entity: str, **fields: Any) -> str:
    saved = Recommendation(
        tenant_id=connection.tenant_id,
        key=f"{level}:{entity}:{sorted(fields.get('change', {}).items())}",
        account_id=connection.ad_account_ids[0],
        level=level,
        entity_id=entity,
        rule="test",
        kind="cost_per_conversion" if level == "ad" else "return_on_spend",
        action="pause" if level == "ad" else "raise_budget",
        state="approved",
        **fields,
    ).save()
    return str(saved.pk)


def test_a_pause_and_a_capped_raise_are_written_once_audited_and_undone(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    tenant, account = connection.tenant_id, connection.ad_account_ids[0]
    targets = _targets(world, account)
    ad, adset = targets["ad"], targets["adset"]
    pause = _approved(connection, "ad", ad["id"], change={"status": "PAUSED"})
    budget = int(adset["daily_budget"])
    raise_id = _approved(
        connection,
        "adset",
        adset["id"],
        change={"daily_budget": budget * 2},
        evidence={"daily_budget": adset["daily_budget"]},
    )
    assert apply_recommendation(ctx, tenant, pause, by="op").state == "applied"
    assert world.get(ad["id"], fields="status").json()["status"] == "PAUSED"
    raised = apply_recommendation(ctx, tenant, raise_id, by="op")
    capped = int(budget * 1.2)
    assert raised.state == "applied", raised.error
    assert world.get(adset["id"], fields="daily_budget").json()["daily_budget"] == str(capped)
    audit = {(e.field, e.old_value, e.new_value, e.read_back) for e in AuditEntry.objects()}
    assert audit == {
        ("status", "ACTIVE", "PAUSED", "PAUSED"),
        ("daily_budget", str(budget), str(capped), str(capped)),
    }
    world.control("POST", "counters")
    assert apply_recommendation(ctx, tenant, pause, by="op").state == "applied"
    assert world.graph_calls() == 0, "applied once: a second delivery writes nothing"
    assert undo_recommendation(ctx, tenant, pause, by="op").state == "undone"
    assert world.get(ad["id"], fields="status").json()["status"] == "ACTIVE"
    # a person changes the budget after the optimizer: undo leaves their change alone
    world.control(
        "POST",
        "mutate",
        {"id": adset["id"], "action": "update", "fields": {"daily_budget": "4321"}},
    )
    world.control("POST", "counters")
    with pytest.raises(RecommendationError, match="nothing written"):
        undo_recommendation(ctx, tenant, raise_id, by="op")
    paths = world.control("GET", "counters")["by_path"]
    assert paths == {"GET /{id}": 1}, "one read, no write"
    assert world.get(adset["id"], fields="daily_budget").json()["daily_budget"] == "4321"


def test_guards_hold_back_a_read_only_token_a_recent_change_and_the_daily_limit(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    tenant, account = connection.tenant_id, connection.ad_account_ids[0]
    targets = _targets(world, account)
    # a recent change by someone else: expired, with the reason, nothing written
    world.control(
        "POST",
        "mutate",
        {"id": targets["ad"]["id"], "action": "update", "fields": {"name": "edited"}},
    )
    recent = _approved(connection, "ad", targets["ad"]["id"], change={"status": "PAUSED"})
    expired = apply_recommendation(ctx, tenant, recent, by="op")
    assert expired.state == "expired" and "within the last 72 hours" in expired.error
    assert world.get(targets["ad"]["id"], fields="status").json()["status"] == "ACTIVE"
    # the daily limit: the second action of the day waits, still approved
    OptimizerSettings(tenant_id=tenant, max_actions_per_account_day=1).save()
    first = _approved(connection, "ad", targets["other_ad"]["id"], change={"status": "PAUSED"})
    assert apply_recommendation(ctx, tenant, first, by="op").state == "applied"
    budget = _approved(
        connection, "adset", targets["adset"]["id"], change={"daily_budget": 99999},
        evidence={"daily_budget": targets["adset"]["daily_budget"]},
    )  # fmt: skip
    waiting = apply_recommendation(ctx, tenant, budget, by="op")
    assert waiting.state == "approved" and "had its 1 actions today" in waiting.error
    # a token that reads but cannot manage: reported, never tried
    reader = world.user(1)
    world.control("POST", "tokens/scopes", {"token": reader["token"], "scopes": ["ads_read"]})
    read_only = add_connection(ctx, "read-only", reader["token"])
    blocked = _approved(read_only, "ad", "123", change={"status": "PAUSED"})
    world.control("POST", "counters")
    with pytest.raises(RecommendationError, match="not granted ads_management"):
        apply_recommendation(ctx, "read-only", blocked, by="op")
    assert world.graph_calls() == 0
    assert "ads_management" in Recommendation.objects.get(pk=blocked).error


def test_a_reallocation_moves_budget_between_two_ad_sets_keeping_the_total_and_undoes(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    tenant, account = connection.tenant_id, connection.ad_account_ids[0]
    truth = world.truth()
    with_budget = {c["id"] for c in truth["campaigns"] if c.get("daily_budget")}
    giver, receiver = [
        s
        for s in truth["adsets"]
        if s["account_id"] == account
        and s["effective_status"] == "ACTIVE"
        and s["campaign_id"] not in with_budget
    ][:2]
    given, received = int(giver["daily_budget"]), int(receiver["daily_budget"])
    moved = int(0.2 * min(given, received))

    def reallocation(key: str) -> str:
        return str(
            Recommendation(
                tenant_id=tenant, key=key, account_id=account, level="adset",
                entity_id=giver["id"], rule="test", kind="budget_reallocation",
                action="reallocate_budget", state="approved",
                change={"daily_budget": given - moved},
                evidence={"daily_budget": str(given), "to": {
                    "entity_id": receiver["id"], "daily_budget": str(received),
                    "daily_budget_after": received + moved}},
            ).save().pk
        )  # fmt: skip

    def budgets() -> tuple[int, int]:
        return tuple(  # type: ignore[return-value]
            int(world.get(s["id"], fields="daily_budget").json()["daily_budget"])
            for s in (giver, receiver)
        )

    applied = apply_recommendation(ctx, tenant, reallocation("move"), by="op")
    assert applied.state == "applied", applied.error
    assert budgets() == (given - moved, received + moved)
    assert sum(budgets()) == given + received, "the total is kept"
    audit = {(e.entity_id, e.old_value, e.read_back) for e in AuditEntry.objects()}
    assert audit == {
        (giver["id"], str(given), str(given - moved)),
        (receiver["id"], str(received), str(received + moved)),
    }
    assert undo_recommendation(ctx, tenant, str(applied.pk), by="op").state == "undone"
    assert budgets() == (given, received)
    # both ends were just changed (by the undo): a second move expires, and writes neither
    world.control("POST", "counters")
    again = apply_recommendation(ctx, tenant, reallocation("again"), by="op")
    assert again.state == "expired" and "within the last 72 hours" in again.error
    assert "POST /{id}" not in world.control("GET", "counters")["by_path"]
