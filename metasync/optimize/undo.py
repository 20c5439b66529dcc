"""Undo an applied recommendation: write the values before it back, only while every entity
still holds what the optimizer wrote and Meta's activity log shows no change by anyone else
since, so a person's pause is never undone, even one they paused and re-enabled in between.
The undo has its own plan (:mod:`metasync.optimize.plans`), stored before its first POST, so it
resumes like a write does.

A take-back Meta refuses for good (a permission, an object it will not change: the undo itself,
or the compensation of a write that could not complete) ends ``restore_refused``, with per
entity what was and was not restored; undo called on such a recommendation tries that take-back
again (once the cause is fixed), from what Meta holds then: it ends ``undone`` (or
``compensated``, for a write that never completed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mongoengine.queryset.visitor import Q

from metasync.graph import GraphClient
from metasync.models import AuditEntry, Recommendation, aware, utcnow
from metasync.optimize.claims import ApplyBusy, release, release_quietly, take_lease, writer_for
from metasync.optimize.plans import (
    GaveUp,
    TakeBackRefused,
    compensate,
    read_entity,
    restore_report,
    run_plan,
)
from metasync.optimize.settings import RecommendationError, find_recommendation
from metasync.sync.context import SyncContext

__all__ = ["undo_recommendation"]

ACTIVITY_MARGIN = timedelta(minutes=1)  # clocks: ours and Meta's activity log, give or take


def undo_recommendation(
    ctx: SyncContext, tenant_id: str, recommendation_id: str, by: str
) -> Recommendation:
    """Write back the values before an applied recommendation, while every entity still holds
    what the optimizer wrote and nobody else changed it since (Meta's activity log); or try
    again a take-back Meta refused (``restore_refused``). Returns it ``undone`` (``compensated``:
    a write that never completed, taken back), or ``restore_refused`` when Meta refuses for good;
    raises :class:`RecommendationError` naming why it stopped otherwise."""
    rec = find_recommendation(tenant_id, recommendation_id)
    state = rec.state
    if state not in ("applied", "restore_refused"):
        raise RecommendationError(
            f"recommendation {recommendation_id} is {state}, not applied (nor a take-back Meta "
            "refused)"
        )
    client = writer_for(ctx, rec)
    claim = take_lease(rec, state, ctx.settings.OPTIMIZER_LEASE_SECONDS)
    done = "undone"
    try:
        rec.reload()
        plan = list(rec.undo_plan or [])
        if state == "restore_refused" and not plan:  # the refused compensation of its apply
            compensate(client, rec, list(rec.plan or []), by, again=True)
            done = "compensated"
        elif not plan:
            plan = _undo_plan(client, rec)
            stored = Recommendation.objects(
                pk=rec.pk, claim=claim, undo_plan__0__exists=False
            ).update_one(set__undo_plan=plan)
            if not stored:
                raise ApplyBusy(f"recommendation {rec.pk}: the lease was lost before undoing", 1.0)
        if done == "undone":
            again = state == "restore_refused"  # the operator sends the refused take-back again
            run_plan(client, rec, plan, "undo", by, final_attempt=True, again=again)
    except (GaveUp, TakeBackRefused) as exc:
        refused = exc.refused
        if not refused:  # a person's change, or a failure Meta may lift: say so, keep the state
            release(rec, claim, set__error=str(exc))
            raise RecommendationError(f"undo of {recommendation_id} stopped: {exc}") from None
        release(
            rec,
            claim,
            set__state="restore_refused",
            set__restore=restore_report(client, rec, _written_plan(rec), refused),
            set__error=f"Meta refused for good to take back the write: {exc}",
        )
        rec.reload()
        return rec
    except RecommendationError:
        release(rec, claim)
        raise
    except BaseException as exc:
        release_quietly(rec, claim, f"{type(exc).__name__}: {exc}")
        raise
    ended = {"set__error": rec.gave_up} if done == "compensated" else {"unset__error": True}
    release(rec, claim, set__state=done, unset__restore=True, unset__failure=True, **ended)
    rec.reload()
    return rec


def _written_plan(rec: Recommendation) -> list[dict[str, Any]]:
    """The recommendation's own write, oldest step first: its plan, or (applied before plans
    were stored) its undo's plan turned around."""
    if rec.plan:
        return list(rec.plan)
    return [
        {**item, "before": item["after"], "after": item["before"]}
        for item in reversed(list(rec.undo_plan or []))
    ]


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
        fresh = read_entity(client, rec, item["level"], item["entity_id"])
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
