"""Approved recommendations on a sandbox world for the write-back's tests, and the check that
the audit log equals what Meta holds."""

from __future__ import annotations

from typing import Any

from metasync.models import AuditEntry, MetaConnection, Recommendation
from tests.support.sandbox import Sandbox

__all__ = ["approved_pause", "approved_reallocation", "audit_matches_meta", "live_adsets"]


def live_adsets(world: Sandbox, account: str, count: int = 2) -> list[dict[str, Any]]:
    """Active ad sets of ``account`` that hold their own daily budget (not a legacy Advantage+
    campaign's)."""
    truth = world.truth()
    with_budget = {c["id"] for c in truth["campaigns"] if c.get("daily_budget")}
    found = [
        s
        for s in truth["adsets"]
        if s["account_id"] == account
        and s["effective_status"] == "ACTIVE"
        and s["campaign_id"] not in with_budget
        and s.get("daily_budget")
    ]
    return found[:count]


def approved_pause(connection: MetaConnection, ad_id: str, key: str = "pause") -> str:
    """An approved pause of ``ad_id``; returns its id."""
    saved = Recommendation(
        tenant_id=connection.tenant_id, key=key, account_id=connection.ad_account_ids[0],
        level="ad", entity_id=ad_id, rule="cost", kind="cost_per_conversion", action="pause",
        change={"status": "PAUSED"}, state="approved",
    ).save()  # fmt: skip
    return str(saved.pk)


def approved_reallocation(
    connection: MetaConnection, giver: dict[str, Any], receiver: dict[str, Any], key: str = "move"
) -> tuple[str, int]:
    """An approved move of 20 % of the smaller budget from ``giver`` to ``receiver``; returns
    its id and the amount (minor units)."""
    given, received = int(giver["daily_budget"]), int(receiver["daily_budget"])
    moved = int(0.2 * min(given, received))
    saved = Recommendation(
        tenant_id=connection.tenant_id, key=key, account_id=connection.ad_account_ids[0],
        level="adset", entity_id=giver["id"], rule="test", kind="budget_reallocation",
        action="reallocate_budget", state="approved", change={"daily_budget": given - moved},
        evidence={"daily_budget": str(given), "to": {
            "entity_id": receiver["id"], "daily_budget": str(received),
            "daily_budget_after": received + moved}},
    ).save()  # fmt: skip
    return str(saved.pk), moved


def audit_matches_meta(world: Sandbox, recommendation_id: str) -> list[str]:
    """Differences between Meta's values and the newest written audit entry of each field
    the recommendation touched; an intent still open is a difference too."""
    problems = []
    entries = list(AuditEntry.objects(recommendation_id=recommendation_id).order_by("at"))
    newest: dict[tuple[str, str], AuditEntry] = {}
    for entry in entries:
        if entry.state == "intended":
            problems.append(f"{entry.action} of {entry.entity_id} {entry.field} still intended")
        if entry.state == "written":
            newest[(entry.entity_id, entry.field)] = entry
    for (entity, name), entry in newest.items():
        now = world.get(entity, fields=name).json().get(name)
        if str(now) != entry.read_back or entry.read_back != entry.new_value:
            problems.append(
                f"{entity} {name}: Meta {now}, audit wrote {entry.new_value} "
                f"and read back {entry.read_back}"
            )
    return problems
