"""Write an approved recommendation to Meta, guarded, once, read back and audited; and undo it.

Guards, in the order they are checked (a refusal names which one held):

1. only an ``approved`` recommendation with a change is written; an ``applied`` one is returned
   as it is, so a redelivered task acts once;
2. a connection of the tenant must hold the account with a token granted ``ads_management``
   (from its last ``debug_token``): without it the recommendation is reported, not tried;
3. the recommendation is claimed atomically (``claimed_at``), so two workers never both write;
4. the entity is read fresh from Meta: changed by anyone within ``quiet_hours`` (default 72),
   no longer active (a pause), or a budget no longer the one the evidence saw: the
   recommendation expires, with the reason;
5. at most ``max_actions_per_account_day`` writes per ad account per UTC day (the rest wait
   for the next day, still approved), and a budget raise capped at ``max_budget_increase``.

Writes set absolute values (``status=PAUSED``, ``daily_budget=12000``), so a retried POST whose
first attempt did reach Meta changes nothing more. Each write is read back and stored with the
value before it in :class:`~metasync.models.AuditEntry`; :func:`undo_recommendation` writes the
value before back, only while the entity still holds what the optimizer wrote and nobody
changed it since: it never re-enables what a person paused.

A budget reallocation writes two ad sets (:func:`targets_of`): every guard holds for both
before either is written, the giver is lowered before the receiver is raised (the total never
exceeds what it was), and the move is capped so the receiver's raise stays within
``max_budget_increase``; it counts as one action. Undo checks both, then writes them back in
the reverse order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from metasync.graph import GraphClient, MetaAPIError
from metasync.models import AuditEntry, MetaConnection, OptimizerSettings, Recommendation, utcnow
from metasync.models.connection import ConnectionStatus
from metasync.optimize.settings import RecommendationError, find_recommendation
from metasync.sync.context import SyncContext
from metasync.sync.mapping import parse_time

__all__ = ["Target", "apply_recommendation", "targets_of", "undo_recommendation"]

READ_FIELDS = {  # what the guards read fresh from Meta (an ad has no budget of its own)
    "ad": "status,effective_status,updated_time",
    "adset": "status,effective_status,daily_budget,updated_time",
    "campaign": "status,effective_status,daily_budget,updated_time",
}
OWN_WRITE_SLACK = timedelta(minutes=2)  # Meta's updated_time of our own write, give or take


def _client(ctx: SyncContext, rec: Recommendation) -> GraphClient:
    connection = MetaConnection.objects(
        tenant_id=rec.tenant_id, ad_account_ids=rec.account_id, status=ConnectionStatus.ACTIVE
    ).first()
    if connection is None:
        raise RecommendationError(
            f"no active connection of tenant {rec.tenant_id} holds ad account {rec.account_id}"
        )
    if "ads_management" not in (connection.token_scopes or []):
        raise RecommendationError(
            f"the token of connection {connection.name or connection.pk} was not granted "
            "ads_management: metasync can read this account but not change it; grant the "
            "permission and add the token again"
        )
    return ctx.client_for(connection)


@dataclass(frozen=True)
class Target:
    """One entity a recommendation writes: the change, and the budget its evidence saw (None
    when it changes no budget)."""

    level: str
    entity_id: str
    change: dict[str, Any]
    seen_budget: Any = None


def targets_of(rec: Recommendation) -> list[Target]:
    """What ``rec`` writes, in order: a reallocation lowers the giving ad set before it raises
    the receiving one, so the total never exceeds the budget before."""
    first = Target(rec.level, rec.entity_id, dict(rec.change), rec.evidence.get("daily_budget"))
    to = rec.evidence.get("to") if rec.action == "reallocate_budget" else None
    if not to:
        return [first]
    receiver = Target(
        "adset", to["entity_id"], {"daily_budget": to["daily_budget_after"]}, to["daily_budget"]
    )
    return [first, receiver]


def _read(client: GraphClient, rec: Recommendation, target: Target) -> dict[str, Any]:
    fields = READ_FIELDS[target.level]
    return dict(
        client.get(target.entity_id, {"fields": fields}, account_id=rec.account_id).body or {}
    )


def _refusal(target: Target, fresh: dict[str, Any], quiet: OptimizerSettings) -> str | None:
    updated = parse_time(fresh.get("updated_time"))
    where = f"{target.level} {target.entity_id}"
    if updated is not None and utcnow() - updated < timedelta(hours=quiet.quiet_hours):
        return (
            f"{where} changed at {updated.isoformat()}, within the last {quiet.quiet_hours} hours"
        )
    if "status" in target.change and fresh.get("status") != "ACTIVE":
        return f"{where} no longer active ({fresh.get('status')})"
    seen, now = target.seen_budget, fresh.get("daily_budget")
    if "daily_budget" in target.change and seen is not None and str(now) != str(seen):
        return f"the budget of {where} changed since the evidence ({seen} -> {now})"
    return None


def _capped(
    targets: list[Target], fresh: list[dict[str, Any]], quiet: OptimizerSettings
) -> list[dict[str, Any]]:
    """The changes to write, raises capped at ``max_budget_increase`` of the budget now; a
    reallocation lowers the giver by exactly what the receiver gains."""
    changes = [dict(t.change) for t in targets]
    if len(targets) == 2:
        giver, receiver = (int(f.get("daily_budget") or 0) for f in fresh)
        moved = min(
            giver - int(changes[0]["daily_budget"]), int(receiver * quiet.max_budget_increase)
        )
        changes[0]["daily_budget"], changes[1]["daily_budget"] = giver - moved, receiver + moved
    elif "daily_budget" in changes[0] and fresh[0].get("daily_budget"):
        ceiling = int(int(fresh[0]["daily_budget"]) * (1 + quiet.max_budget_increase))
        changes[0]["daily_budget"] = min(int(changes[0]["daily_budget"]), ceiling)
    return changes


def _write(
    client: GraphClient,
    rec: Recommendation,
    target: Target,
    change: dict[str, Any],
    before: dict[str, Any],
    action: str,
    by: str,
) -> None:
    client.post(target.entity_id, {k: str(v) for k, v in change.items()}, account_id=rec.account_id)
    after = _read(client, rec, target)
    for name, value in change.items():
        AuditEntry(
            tenant_id=rec.tenant_id,
            recommendation_id=str(rec.pk),
            account_id=rec.account_id,
            level=target.level,
            entity_id=target.entity_id,
            action=action,
            field=name,
            old_value=None if before.get(name) is None else str(before[name]),
            new_value=str(value),
            read_back=None if after.get(name) is None else str(after[name]),
            by=by,
        ).save()


def _actions_today(rec: Recommendation) -> int:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    writes = AuditEntry.objects(
        tenant_id=rec.tenant_id, account_id=rec.account_id, action="apply", at__gte=midnight
    )
    return len(writes.distinct("recommendation_id"))


def apply_recommendation(
    ctx: SyncContext, tenant_id: str, recommendation_id: str, by: str
) -> Recommendation:
    """Write an approved recommendation to Meta (see the module's guards); returns it with its
    new state (``applied``, ``expired``, or still ``approved`` with ``error`` set)."""
    rec = find_recommendation(tenant_id, recommendation_id)
    if rec.state == "applied":
        return rec
    if rec.state != "approved" or not rec.change:
        raise RecommendationError(
            f"recommendation {recommendation_id} is {rec.state}"
            f"{' and only a flag' if not rec.change else ''}: only an approved change is applied"
        )
    try:
        client = _client(ctx, rec)
    except RecommendationError as exc:
        rec.update(set__error=str(exc))
        raise
    claimed = Recommendation.objects(pk=rec.pk, state="approved", claimed_at=None).update_one(
        set__claimed_at=utcnow()
    )
    if not claimed:
        rec.reload()
        return rec  # another worker is writing it
    quiet = OptimizerSettings.objects(tenant_id=tenant_id).first() or OptimizerSettings()
    targets = targets_of(rec)
    try:
        fresh = [_read(client, rec, target) for target in targets]
        refusals = [_refusal(t, f, quiet) for t, f in zip(targets, fresh, strict=True)]
        refusal = next((r for r in refusals if r is not None), None)
        if refusal is not None:
            rec.update(set__state="expired", set__error=refusal, unset__claimed_at=True)
        elif _actions_today(rec) >= quiet.max_actions_per_account_day:
            rec.update(
                set__error=f"ad account {rec.account_id} had its "
                f"{quiet.max_actions_per_account_day} actions today; applied tomorrow",
                unset__claimed_at=True,
            )
        else:
            changes = _capped(targets, fresh, quiet)
            for target, change, before in zip(targets, changes, fresh, strict=True):
                _write(client, rec, target, change, before, "apply", by)
            rec.update(set__state="applied", set__applied_at=utcnow(), unset__error=True)
    except MetaAPIError as exc:
        rec.update(set__error=client.redact(str(exc)), unset__claimed_at=True)
        raise
    rec.reload()
    return rec


def undo_recommendation(
    ctx: SyncContext, tenant_id: str, recommendation_id: str, by: str
) -> Recommendation:
    """Write back the values before an applied recommendation, while the entity still holds
    what the optimizer wrote and nobody changed it since."""
    rec = find_recommendation(tenant_id, recommendation_id)
    if rec.state != "applied":
        raise RecommendationError(f"recommendation {recommendation_id} is {rec.state}, not applied")
    client = _client(ctx, rec)
    writes = list(AuditEntry.objects(recommendation_id=str(rec.pk), action="apply"))
    undo = list(reversed(targets_of(rec)))  # a reallocation: the receiver is lowered first
    fresh = [_read(client, rec, target) for target in undo]
    for target, now in zip(undo, fresh, strict=True):
        _check_unchanged(rec, target, now, [w for w in writes if w.entity_id == target.entity_id])
    for target, now in zip(undo, fresh, strict=True):
        before = {
            e.field: e.old_value
            for e in writes
            if e.entity_id == target.entity_id and e.old_value is not None
        }
        _write(client, rec, target, before, now, "undo", by)
    rec.update(set__state="undone")
    rec.reload()
    return rec


def _check_unchanged(
    rec: Recommendation, target: Target, fresh: dict[str, Any], writes: list[AuditEntry]
) -> None:
    """Undo only what still holds the optimizer's write and nobody changed since."""
    updated = parse_time(fresh.get("updated_time"))
    if (
        rec.applied_at is not None
        and updated is not None
        and (updated > rec.applied_at + OWN_WRITE_SLACK)
    ):
        raise RecommendationError(
            f"{target.level} {target.entity_id} was changed at {updated.isoformat()}, after "
            "the optimizer's write: undoing would overwrite that change; nothing written"
        )
    for entry in writes:
        if str(fresh.get(entry.field)) != entry.read_back:
            raise RecommendationError(
                f"{entry.field} of {target.entity_id} is {fresh.get(entry.field)} now, not the "
                f"{entry.read_back} the optimizer wrote; nothing written"
            )
