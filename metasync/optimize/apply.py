"""Write an approved recommendation to Meta, guarded, once, read back and audited; and undo it.

Guards, in the order they are checked (a refusal names which one held):

1. only an ``approved`` recommendation with a change is written; an ``applied`` one is returned
   as it is, so a redelivered task acts once;
2. a connection of the tenant must hold the account with a token granted ``ads_management``
   (from its last ``debug_token``): without it the recommendation is reported, not tried;
3. a **lease** is taken on the recommendation (``claimed_at`` + ``claim``): two workers never
   both write, and a worker killed mid-way leaves a lease that expires after
   ``OPTIMIZER_LEASE_SECONDS`` (longer than the task's time limit), after which the recovery
   (beat) or a redelivery takes it over;
4. the entity is read fresh from Meta: changed by anyone within ``quiet_hours`` (default 72),
   no longer active (a pause), or a budget no longer the one the evidence saw: the
   recommendation expires, with the reason;
5. at most ``max_actions_per_account_day`` actions per ad account per UTC day, taken atomically
   (:class:`~metasync.models.ActionCount`: ``count < cap`` and ``$inc`` in one update, so
   concurrent applies never pass the cap together; the rest wait for the next day, still
   approved), and a budget raise capped at ``max_budget_increase``.

**Intent before effect.** Before the first POST the whole write (each entity, its values
before and the values intended) is stored on the recommendation as its ``plan`` in one atomic
update, and each step's audit entries are written ``intended`` before its POST. A retry, a
redelivery or the recovery finds the plan and compares Meta's values with it, step by step:
Meta holds the intended values (the POST landed; only the read-back was lost): confirm without
writing again; Meta holds the values before: write; anything else (a person changed it
meanwhile): give up. Writes set absolute values, so a POST repeated after a lost answer
changes nothing more. The quiet-hours guard is checked once, before the plan: the optimizer's
own first write never expires its own recommendation.

**Two writes complete or compensate.** A budget reallocation lowers the giving ad set before it
raises the receiving one (the total never exceeds what it was). When the second write cannot be
made (a refusal from Meta, the last retry spent, or a person changed the receiver), the first
is written back (``compensate`` in the audit log) and the recommendation ends ``compensated``:
the total is what it was before, never lower, never higher.

**The audit log equals Meta.** Every confirmed write is an :class:`~metasync.models.AuditEntry`
(``written``) with the value before, the value written and the value read back; an intent that
was never written ends ``abandoned``. :func:`undo_recommendation` writes the values before back
(with its own plan, so it too resumes), only while every entity still holds what the optimizer
wrote and Meta's activity log shows no change by anyone else since: it never re-enables what a
person paused, even one they paused and re-enabled in between.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mongoengine.errors import NotUniqueError
from mongoengine.queryset.visitor import Q

from metasync.graph import GraphClient, MetaAPIError
from metasync.models import (
    ActionCount,
    AuditEntry,
    MetaConnection,
    OptimizerSettings,
    Recommendation,
    aware,
    utcnow,
)
from metasync.models.connection import ConnectionStatus
from metasync.optimize.settings import RecommendationError, find_recommendation
from metasync.sync.context import SyncContext
from metasync.sync.mapping import parse_time

__all__ = [
    "ApplyBusy",
    "Target",
    "apply_recommendation",
    "stale_applies",
    "targets_of",
    "undo_recommendation",
]

READ_FIELDS = {  # what the guards read fresh from Meta (an ad has no budget of its own)
    "ad": "status,effective_status,updated_time",
    "adset": "status,effective_status,daily_budget,updated_time",
    "campaign": "status,effective_status,daily_budget,updated_time",
}
ACTIVITY_MARGIN = timedelta(minutes=1)  # clocks: ours and Meta's activity log, give or take


class ApplyBusy(RecommendationError):
    """Another attempt holds the recommendation's lease; try again in ``retry_in`` seconds."""

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


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


def _read(client: GraphClient, rec: Recommendation, level: str, entity_id: str) -> dict[str, Any]:
    return dict(
        client.get(entity_id, {"fields": READ_FIELDS[level]}, account_id=rec.account_id).body or {}
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


# -- leases ------------------------------------------------------------------------------------


def _take_lease(rec: Recommendation, state: str, lease_seconds: int) -> str:
    """A new lease on ``rec`` (in ``state``) when none is held or the one held expired."""
    claim = secrets.token_hex(8)
    now = utcnow()
    free = Q(claimed_at=None) | Q(claimed_at__lt=now - timedelta(seconds=lease_seconds))
    taken = Recommendation.objects(Q(pk=rec.pk) & Q(state=state) & free).update_one(
        set__claimed_at=now, set__claim=claim
    )
    if not taken:
        held = aware(Recommendation.objects(pk=rec.pk).only("claimed_at").first().claimed_at)
        wait = lease_seconds - (now - held).total_seconds() if held is not None else 1.0
        raise ApplyBusy(
            f"recommendation {rec.pk} is being written by another attempt", max(1.0, wait)
        )
    return claim


def _release(rec: Recommendation, claim: str, **updates: Any) -> None:
    """Give the lease back (only the attempt that holds it can), with ``updates``."""
    Recommendation.objects(pk=rec.pk, claim=claim).update_one(
        unset__claimed_at=True, unset__claim=True, **updates
    )


def stale_applies(lease_seconds: int) -> list[Recommendation]:
    """Approved recommendations to take over: an expired lease (its worker died), a plan begun
    and no lease (its task stopped mid-way, e.g. at a time limit), or one the daily cap held
    whose new day has come. An undo stopped mid-way is resumed by running the undo again (its
    lease expires likewise)."""
    now = utcnow()
    expired = now - timedelta(seconds=lease_seconds)
    stopped = Q(claimed_at=None) & Q(plan__0__exists=True)
    due = Q(claimed_at=None) & Q(waiting_until__lte=now)  # the daily cap's new day
    return list(
        Recommendation.objects(
            Q(state="approved") & (Q(claimed_at__lt=expired) | stopped | due)
        ).only("tenant_id")
    )


# -- the daily cap -----------------------------------------------------------------------------


def _take_action_slot(rec: Recommendation, cap: int) -> bool:
    """Count ``rec`` among its account's actions today, atomically within ``cap``; a
    recommendation already counted (a retry) keeps its slot."""
    key = {
        "tenant_id": rec.tenant_id,
        "account_id": rec.account_id,
        "day": datetime.now(UTC).date().isoformat(),
    }
    with contextlib.suppress(NotUniqueError):  # a concurrent apply made it first
        ActionCount.objects(**key).update_one(upsert=True, set_on_insert__count=0)
    ident = str(rec.pk)
    taken = ActionCount.objects(**key, count__lt=cap, recommendations__ne=ident).update_one(
        inc__count=1, push__recommendations=ident
    )
    return bool(taken) or ActionCount.objects(**key, recommendations=ident).count() > 0


# -- the plan ----------------------------------------------------------------------------------


def _values(fresh: dict[str, Any], names: dict[str, Any]) -> dict[str, str]:
    return {name: str(fresh.get(name)) for name in names}


def _audit(
    rec: Recommendation, action: str, step: int, item: dict[str, Any], by: str, **fields: Any
) -> None:
    """Upsert the audit entries of one step (one per field) with ``fields``."""
    for name, value in item["after"].items():
        AuditEntry.objects(
            recommendation_id=str(rec.pk),
            action=action,
            step=step,
            entity_id=item["entity_id"],
            field=name,
        ).update_one(
            upsert=True,
            set_on_insert__tenant_id=rec.tenant_id,
            set_on_insert__account_id=rec.account_id,
            set_on_insert__level=item["level"],
            set_on_insert__old_value=item["before"].get(name),
            set_on_insert__new_value=value,
            set_on_insert__by=by,
            set_on_insert__at=utcnow(),
            **{f"set__{k}": v for k, v in fields.items()},
        )


def _confirm(
    rec: Recommendation, action: str, step: int, item: dict[str, Any], after: dict[str, Any],
    by: str,
) -> None:  # fmt: skip
    """The step's entries ``written``, with what Meta gave back."""
    for name in item["after"]:
        read_back = None if after.get(name) is None else str(after[name])
        _audit(rec, action, step, {**item, "after": {name: item["after"][name]}}, by,
               state="written", read_back=read_back)  # fmt: skip


def _post(client: GraphClient, rec: Recommendation, item: dict[str, Any], values: str) -> None:
    client.post(item["entity_id"], dict(item[values]), account_id=rec.account_id)


class _GaveUp(Exception):
    """A plan that cannot complete; its written steps were compensated."""

    def __init__(self, reason: str, compensated: bool) -> None:
        super().__init__(reason)
        self.compensated = compensated


def _run_plan(
    client: GraphClient,
    rec: Recommendation,
    plan: list[dict[str, Any]],
    action: str,
    by: str,
    final_attempt: bool,
) -> None:
    """Carry out ``plan`` from where Meta's values say it stands (see the module)."""
    fresh = [_read(client, rec, item["level"], item["entity_id"]) for item in plan]
    for step, item in enumerate(plan):
        now = _values(fresh[step], item["after"])
        if now == item["after"]:
            _confirm(rec, action, step, item, fresh[step], by)  # an earlier attempt wrote it
            continue
        if now != item["before"]:
            _give_up(
                client, rec, plan, step, action, by,
                f"{item['level']} {item['entity_id']} holds {now}, neither the {item['before']} "
                f"before nor the {item['after']} intended: someone else changed it meanwhile",
            )  # fmt: skip
        _audit(rec, action, step, item, by, state="intended")
        try:
            _post(client, rec, item, "after")
        except MetaAPIError as exc:
            if exc.retryable and not final_attempt:
                raise  # the task retries; the next attempt resumes from here
            _give_up(client, rec, plan, step, action, by, client.redact(str(exc)))
        _confirm(rec, action, step, item, _read(client, rec, item["level"], item["entity_id"]), by)


def _give_up(
    client: GraphClient,
    rec: Recommendation,
    plan: list[dict[str, Any]],
    step: int,
    action: str,
    by: str,
    reason: str,
) -> None:
    """Abandon steps ``step`` on and write back the ones before it (newest first)."""
    for later in range(step, len(plan)):
        AuditEntry.objects(
            recommendation_id=str(rec.pk), action=action, step=later, state="intended"
        ).update(set__state="abandoned")
    for earlier in range(step - 1, -1, -1):
        item = plan[earlier]
        back = {"level": item["level"], "entity_id": item["entity_id"],
                "before": item["after"], "after": item["before"]}  # fmt: skip
        _audit(rec, "compensate", earlier, back, by, state="intended")
        _post(client, rec, back, "after")
        _confirm(rec, "compensate", earlier, back, _read(client, rec, back["level"],
                 back["entity_id"]), by)  # fmt: skip
    if step == 0:
        raise _GaveUp(reason, compensated=False)
    raise _GaveUp(f"{reason}; the earlier writes were taken back", compensated=True)


# -- apply and undo ----------------------------------------------------------------------------


def apply_recommendation(
    ctx: SyncContext,
    tenant_id: str,
    recommendation_id: str,
    by: str,
    final_attempt: bool = True,
) -> Recommendation:
    """Write an approved recommendation to Meta (see the module); returns it with its new state
    (``applied``, ``expired``, ``compensated``, or still ``approved`` with ``error`` set).
    Raises :class:`ApplyBusy` while another attempt holds it, and Meta's transient errors
    (after recording them) unless ``final_attempt``, in which case it gives up cleanly."""
    rec = find_recommendation(tenant_id, recommendation_id)
    if rec.state in ("applied", "compensated"):
        return rec
    if rec.state != "approved" or not rec.change:
        raise RecommendationError(
            f"recommendation {recommendation_id} is {rec.state}"
            f"{' and only a flag' if not rec.change else ''}: only an approved change is applied"
        )
    try:
        client = _client(ctx, rec)
    except RecommendationError as exc:  # reported; not sent again until someone applies it
        rec.update(set__error=str(exc), unset__waiting_until=True)
        raise
    claim = _take_lease(rec, "approved", ctx.settings.OPTIMIZER_LEASE_SECONDS)
    try:
        _apply_claimed(client, rec, claim, by, final_attempt)
    except _GaveUp as exc:
        state = "compensated" if exc.compensated else "expired"
        _release(rec, claim, set__state=state, set__error=str(exc))
    except MetaAPIError as exc:
        _release(rec, claim, set__error=client.redact(str(exc)))
        raise
    except BaseException as exc:  # a MongoDB failover, a time limit: the lease goes back
        _release_quietly(rec, claim, f"{type(exc).__name__}: {exc}")
        raise
    rec.reload()
    return rec


def _release_quietly(rec: Recommendation, claim: str, error: str) -> None:
    try:
        _release(rec, claim, set__error=error[:500])
    except Exception:  # noqa: BLE001 - the store is away: the lease expires by itself
        return


def _apply_claimed(
    client: GraphClient, rec: Recommendation, claim: str, by: str, final_attempt: bool
) -> None:
    rec.reload()
    plan = list(rec.plan or [])
    if not plan:
        settings = OptimizerSettings.objects(tenant_id=rec.tenant_id).first()
        settings = settings or OptimizerSettings()
        targets = targets_of(rec)
        fresh = [_read(client, rec, t.level, t.entity_id) for t in targets]
        refusals = [_refusal(t, f, settings) for t, f in zip(targets, fresh, strict=True)]
        refusal = next((r for r in refusals if r is not None), None)
        if refusal is not None:
            _release(rec, claim, set__state="expired", set__error=refusal)
            return
        if not _take_action_slot(rec, settings.max_actions_per_account_day):
            midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            _release(
                rec,
                claim,
                set__error=f"ad account {rec.account_id} had its "
                f"{settings.max_actions_per_account_day} actions today; applied tomorrow",
                set__waiting_until=midnight + timedelta(days=1),
            )
            return
        changes = _capped(targets, fresh, settings)
        plan = [
            {
                "level": t.level,
                "entity_id": t.entity_id,
                "before": {k: str(f.get(k)) for k in change},
                "after": {k: str(v) for k, v in change.items()},
            }
            for t, f, change in zip(targets, fresh, changes, strict=True)
        ]
        stored = Recommendation.objects(pk=rec.pk, claim=claim, plan__0__exists=False).update_one(
            set__plan=plan, set__planned_at=utcnow()
        )
        if not stored:
            raise ApplyBusy(f"recommendation {rec.pk}: the lease was lost before writing", 1.0)
        rec.plan = plan
    _run_plan(client, rec, plan, "apply", by, final_attempt)
    _release(
        rec, claim, set__state="applied", set__applied_at=utcnow(), unset__error=True,
        unset__waiting_until=True,
    )  # fmt: skip


def undo_recommendation(
    ctx: SyncContext, tenant_id: str, recommendation_id: str, by: str
) -> Recommendation:
    """Write back the values before an applied recommendation, while every entity still holds
    what the optimizer wrote and nobody else changed it since (Meta's activity log)."""
    rec = find_recommendation(tenant_id, recommendation_id)
    if rec.state != "applied":
        raise RecommendationError(f"recommendation {recommendation_id} is {rec.state}, not applied")
    client = _client(ctx, rec)
    claim = _take_lease(rec, "applied", ctx.settings.OPTIMIZER_LEASE_SECONDS)
    try:
        rec.reload()
        plan = list(rec.undo_plan or [])
        if not plan:
            plan = _undo_plan(client, rec)
            stored = Recommendation.objects(
                pk=rec.pk, claim=claim, undo_plan__0__exists=False
            ).update_one(set__undo_plan=plan)
            if not stored:
                raise ApplyBusy(f"recommendation {rec.pk}: the lease was lost before undoing", 1.0)
        _run_plan(client, rec, plan, "undo", by, final_attempt=True)
    except _GaveUp as exc:
        _release(rec, claim, set__error=str(exc))
        raise RecommendationError(f"undo of {recommendation_id} stopped: {exc}") from None
    except RecommendationError:
        _release(rec, claim)
        raise
    except BaseException as exc:
        _release_quietly(rec, claim, f"{type(exc).__name__}: {exc}")
        raise
    _release(rec, claim, set__state="undone", unset__error=True)
    rec.reload()
    return rec


def _undo_plan(client: GraphClient, rec: Recommendation) -> list[dict[str, Any]]:
    """The writes that undo ``rec``, newest first, after checking nobody changed its entities
    since the optimizer wrote them; raises :class:`RecommendationError` naming what changed."""
    written = list(
        AuditEntry.objects(
            Q(recommendation_id=str(rec.pk))
            & Q(action="apply")
            & (Q(state="written") | Q(state__exists=False))  # entries from before intents
        ).order_by("at")
    )
    plan = []
    for item in reversed(list(rec.plan or []) or _plan_of(written)):
        entries = [e for e in written if e.entity_id == item["entity_id"]]
        fresh = _read(client, rec, item["level"], item["entity_id"])
        for entry in entries:
            if str(fresh.get(entry.field)) != entry.read_back:
                raise RecommendationError(
                    f"{entry.field} of {item['entity_id']} is {fresh.get(entry.field)} now, not "
                    f"the {entry.read_back} the optimizer wrote; nothing written"
                )
        _check_activity(client, rec, item, entries)
        plan.append(
            {"level": item["level"], "entity_id": item["entity_id"],
             "before": dict(item["after"]), "after": dict(item["before"])}
        )  # fmt: skip
    return plan


def _plan_of(written: list[AuditEntry]) -> list[dict[str, Any]]:
    """The plan of a recommendation applied before plans were stored, from its audit entries
    (oldest first)."""
    plan: dict[str, dict[str, Any]] = {}
    for entry in written:
        item = plan.setdefault(
            entry.entity_id,
            {"level": entry.level, "entity_id": entry.entity_id, "before": {}, "after": {}},
        )
        item["before"][entry.field] = entry.old_value
        item["after"][entry.field] = entry.new_value
    return list(plan.values())


def _check_activity(
    client: GraphClient, rec: Recommendation, item: dict[str, Any], entries: list[AuditEntry]
) -> None:
    """Refuse when Meta's activity log holds a change of the entity since the optimizer's write
    that is not the optimizer's own (one entry per field a write changed)."""
    if not entries:
        return
    since = min(aware(e.at) or utcnow() for e in entries) - ACTIVITY_MARGIN
    body = client.get(
        f"act_{rec.account_id}/activities",
        {"since": int(since.timestamp()), "limit": 500,
         "fields": "event_time,event_type,object_id,actor_name"},
        account_id=rec.account_id,
    ).body or {}  # fmt: skip
    if (body.get("paging") or {}).get("next"):
        raise RecommendationError(
            f"ad account {rec.account_id} has over 500 changes since the optimizer's write: "
            "too many to tell whether anyone changed this; nothing written"
        )
    changes = [a for a in body.get("data") or [] if str(a.get("object_id")) == item["entity_id"]]
    ours = sum(1 for e in entries if e.old_value != e.read_back)
    if len(changes) > ours:
        other = changes[0]
        raise RecommendationError(
            f"{item['level']} {item['entity_id']} was changed after the optimizer's write "
            f"({other.get('event_type')} at {other.get('event_time')} by "
            f"{other.get('actor_name') or 'someone'}): undoing would overwrite that change; "
            "nothing written"
        )
