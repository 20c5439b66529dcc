"""Write an approved recommendation to Meta, guarded, once, read back and audited.

The pieces: who may write and when (leases, the daily cap: :mod:`metasync.optimize.claims`),
carrying out a plan from where Meta stands (:mod:`metasync.optimize.plans`), and undo
(:mod:`metasync.optimize.undo`).

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
   recommendation expires, with the reason (a reallocation planned after a raise of the same
   evaluation waits for the raise and counts its write as the evidence's, so both stand:
   :mod:`metasync.optimize.together`);
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
made (a refusal from Meta, the last retry spent, or a person changed the receiver), the
decision is stored (``gave_up``), the first is written back (``compensate`` in the audit log)
and the recommendation ends ``compensated``: the total is what it was before, never lower,
never higher. An attempt that dies while taking back is followed by one that finishes it.

**Refused writes end, and say so.** A write Meta refuses (for good, or a failure that outlasted
the retries) before anything of it is written ends ``failed`` with Meta's error (``failure``),
never ``expired``: nothing expires it, the recovery leaves it, and :func:`apply_recommendation`
called again (the permission granted, the object fixed) plans it afresh under every guard,
without a new evaluation. A take-back Meta refuses for good (the compensation above, or undo)
ends ``restore_refused``: its intents are closed ``refused``, ``restore`` says per entity what
was and was not restored (read from Meta), the built-in notifier raises an alert
(:mod:`metasync.alerts`), and nothing POSTs it again until an operator runs undo
(:func:`~metasync.optimize.undo.undo_recommendation`) once the cause is fixed.
:func:`~metasync.optimize.outcome.outcome` turns a state into what the CLI and the API answer.

**The audit log equals Meta.** Every confirmed write is an :class:`~metasync.models.AuditEntry`
(``written``) with the value before, the value written and the value read back; an intent that
was never written ends ``abandoned``. :func:`undo_recommendation` writes the values before back
(with its own plan, so it too resumes), only while every entity still holds what the optimizer
wrote and Meta's activity log shows no change by anyone else since: it never re-enables what a
person paused, even one they paused and re-enabled in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from metasync.graph import GraphClient, MetaAPIError
from metasync.models import OptimizerSettings, Recommendation, utcnow
from metasync.optimize.claims import (
    ApplyBusy,
    release,
    release_quietly,
    take_action_slot,
    take_lease,
    writer_for,
)
from metasync.optimize.plans import (
    GaveUp,
    TakeBackRefused,
    compensate,
    read_entity,
    restore_report,
    run_plan,
)
from metasync.optimize.settings import RecommendationError, find_recommendation
from metasync.optimize.together import FollowedRaise, WaitsForRaise, followed_raises
from metasync.sync.context import SyncContext
from metasync.sync.shapes.mapping import parse_time

__all__ = ["Target", "apply_recommendation", "targets_of"]


@dataclass(frozen=True)
class Target:
    """One entity a recommendation writes: the change, the budget its evidence saw (None
    when it changes no budget) and the status it must still hold (``ACTIVE`` for a pause; a
    proposal to resume saw ``PAUSED``)."""

    level: str
    entity_id: str
    change: dict[str, Any]
    seen_budget: Any = None
    seen_status: str = "ACTIVE"


def targets_of(rec: Recommendation) -> list[Target]:
    """What ``rec`` writes, in order: a reallocation lowers the giving ad set before it raises
    the receiving one, so the total never exceeds the budget before."""
    first = Target(
        rec.level,
        rec.entity_id,
        dict(rec.change),
        rec.evidence.get("daily_budget"),
        rec.evidence.get("status") or "ACTIVE",
    )
    to = rec.evidence.get("to") if rec.action == "reallocate_budget" else None
    if not to:
        return [first]
    receiver = Target(
        "adset", to["entity_id"], {"daily_budget": to["daily_budget_after"]}, to["daily_budget"]
    )
    return [first, receiver]


def _refusal(
    target: Target,
    fresh: dict[str, Any],
    quiet: OptimizerSettings,
    followed: FollowedRaise | None = None,
) -> str | None:
    """Why ``target`` may not be written now (None: it may). ``followed``: the raise of the
    same evaluation this write was planned after (:mod:`metasync.optimize.together`): its
    write is not someone's change, and its budget stands for the one the evidence saw."""
    updated = parse_time(fresh.get("updated_time"))
    where = f"{target.level} {target.entity_id}"
    own_write = followed is not None and followed.wrote(updated)
    recent = updated is not None and utcnow() - updated < timedelta(hours=quiet.quiet_hours)
    if updated is not None and recent and not own_write:
        return (
            f"{where} changed at {updated.isoformat()}, within the last {quiet.quiet_hours} hours"
        )
    if "status" in target.change and fresh.get("status") != target.seen_status:
        if target.seen_status == "ACTIVE":
            return f"{where} no longer active ({fresh.get('status')})"
        return f"{where} no longer {target.seen_status} ({fresh.get('status')})"
    seen, now = target.seen_budget, fresh.get("daily_budget")
    seen = followed.budget if followed is not None else seen
    if "daily_budget" in target.change and seen is not None and str(now) != str(seen):
        return f"the budget of {where} changed since the evidence ({seen} -> {now})"
    return None


def _capped(
    targets: list[Target], fresh: list[dict[str, Any]], quiet: OptimizerSettings
) -> list[dict[str, Any]]:
    """The changes to write, raises capped at ``max_budget_increase`` of the budget now; a
    reallocation lowers the giver by exactly what the receiver gains: the amount its evidence
    planned (from the budget the evidence saw), from the budgets Meta holds now (a raise of the
    same evaluation may have moved one of them)."""
    changes = [dict(t.change) for t in targets]
    if len(targets) == 2:
        giver, receiver = (int(f.get("daily_budget") or 0) for f in fresh)
        seen = targets[0].seen_budget
        planned = (int(seen) if seen is not None else giver) - int(changes[0]["daily_budget"])
        moved = min(planned, int(receiver * quiet.max_budget_increase))
        changes[0]["daily_budget"], changes[1]["daily_budget"] = giver - moved, receiver + moved
    elif "daily_budget" in changes[0] and fresh[0].get("daily_budget"):
        ceiling = int(int(fresh[0]["daily_budget"]) * (1 + quiet.max_budget_increase))
        changes[0]["daily_budget"] = min(int(changes[0]["daily_budget"]), ceiling)
    return changes


# -- apply and undo ----------------------------------------------------------------------------


def apply_recommendation(
    ctx: SyncContext,
    tenant_id: str,
    recommendation_id: str,
    by: str,
    final_attempt: bool = True,
) -> Recommendation:
    """Write an approved (or ``failed``: tried again) recommendation to Meta (see the module);
    returns it with its new state (``applied``, ``expired``, ``compensated``, ``failed``,
    ``restore_refused``, or still ``approved`` with ``error`` set while the daily cap holds it).
    Raises :class:`ApplyBusy` while another attempt holds it, and Meta's transient errors
    (after recording them) unless ``final_attempt``, in which case it gives up cleanly."""
    rec = find_recommendation(tenant_id, recommendation_id)
    if rec.state in ("applied", "compensated"):
        return rec
    if not rec.change:
        raise RecommendationError(
            f"recommendation {recommendation_id} is a flag ({rec.state}): it writes nothing to "
            "Meta, so there is nothing to apply; act on it in Ads Manager, or reject it"
        )
    if rec.state == "proposed":
        raise RecommendationError(
            f"recommendation {recommendation_id} is proposed: approve it first, then apply it"
        )
    if rec.state not in ("approved", "failed"):
        raise RecommendationError(
            f"recommendation {recommendation_id} is {rec.state}: only an approved change (or "
            "one that failed, tried again) is applied"
        )
    try:
        client = writer_for(ctx, rec)
    except RecommendationError as exc:  # reported; not sent again until someone applies it
        rec.update(set__error=str(exc), unset__waiting_until=True)
        raise
    if rec.state == "failed":
        _reopen(rec)
    claim = take_lease(rec, "approved", ctx.settings.OPTIMIZER_LEASE_SECONDS)
    try:
        _apply_claimed(client, rec, claim, by, final_attempt)
    except GaveUp as exc:  # compensated: whole again; failed: nothing written; else: stale
        state = "compensated" if exc.compensated else "failed" if exc.failure else "expired"
        failure = {"set__failure": exc.failure} if exc.failure else {}
        release(rec, claim, set__state=state, set__error=str(exc), **failure)
    except TakeBackRefused as exc:
        report = restore_report(client, rec, list(rec.plan or []), exc.refused)
        release(
            rec,
            claim,
            set__state="restore_refused",
            set__restore=report,
            set__error=f"Meta refused for good to take back the write: {exc}",
        )
    except MetaAPIError as exc:
        release(rec, claim, set__error=client.redact(str(exc)))
        raise
    except BaseException as exc:  # a MongoDB failover, a time limit: the lease goes back
        release_quietly(rec, claim, f"{type(exc).__name__}: {exc}")
        raise
    rec.reload()
    return rec


def _apply_claimed(
    client: GraphClient, rec: Recommendation, claim: str, by: str, final_attempt: bool
) -> None:
    rec.reload()
    plan = list(rec.plan or [])
    if rec.gave_up:  # an attempt gave up and died taking back: finish taking back
        compensate(client, rec, plan, by)
        raise GaveUp(rec.gave_up, compensated=True)
    if not plan:
        settings = OptimizerSettings.objects(tenant_id=rec.tenant_id).first()
        settings = settings or OptimizerSettings()
        targets = targets_of(rec)
        try:  # a raise of the same evaluation first (ApplyBusy while it is being written)
            followed, ended = followed_raises(rec)
        except WaitsForRaise as exc:
            release(rec, claim, set__error=str(exc), set__waiting_until=exc.until)
            return
        fresh = [read_entity(client, rec, t.level, t.entity_id) for t in targets]
        refusals = [
            _refusal(t, f, settings, followed.get(t.entity_id))
            for t, f in zip(targets, fresh, strict=True)
        ]
        refusal = ended or next((r for r in refusals if r is not None), None)
        if refusal is not None:
            release(rec, claim, set__state="expired", set__error=refusal)
            return
        if not take_action_slot(rec, settings.max_actions_per_account_day):
            midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            release(
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
    run_plan(client, rec, plan, "apply", by, final_attempt)
    release(
        rec,
        claim,
        set__state="applied",
        set__applied_at=utcnow(),
        unset__error=True,
        unset__waiting_until=True,
        unset__failure=True,
    )


def _reopen(rec: Recommendation) -> None:
    """A ``failed`` recommendation approved again for another attempt, with no plan: nothing of
    the failed one was written (its intents are closed ``refused`` or ``abandoned``), so the
    new attempt reads Meta afresh and every guard holds again (quiet hours, the budget the
    evidence saw, today's cap). ``error`` and ``failure`` stay until the attempt ends."""
    Recommendation.objects(pk=rec.pk, state="failed").update_one(
        set__state="approved", unset__plan=True, unset__planned_at=True, unset__gave_up=True
    )
    rec.reload()
