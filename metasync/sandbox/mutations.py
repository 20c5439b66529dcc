"""Changes to the sandbox world made through the control API, as an advertiser would make them.

``purge`` removes an object and its children outright, as when Meta stops returning an object
(the case tombstones exist for). ``unlist`` deletes an object and its children and has Meta stop
listing them on edges, as Meta does with deleted objects ("you cannot retrieve the deleted objects
as a connection object"): they still answer when read by id, and their insights still come with
an ``effective_status`` filter. Every change to a campaign, ad set or ad is logged in the
account's activities (:mod:`metasync.sandbox.activity`). Pausing a campaign or ad set changes
its children's *effective* status without moving their ``updated_time`` (Meta's quirk that makes
periodic full reconciliation necessary); archiving and deleting cascade to the children and do
move it. Status and budget changes also act on delivery from the moment they are made
(:mod:`metasync.sandbox.delivery`). Two actions set what Meta decides, not the advertiser, and
are not logged: ``learning`` (an ad set's ``learning_stage_info`` status, ``LEARNING``,
``SUCCESS`` or ``FAIL``; ``since`` its last significant edit, unix seconds), ``performance``
(an ad's fixed rates, see :data:`metasync.sandbox.delivery.PROFILE_RATES`) and ``disapprove``
(an ad's review outcome: ``DISAPPROVED`` with Meta's ``ad_review_feedback``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from metasync.sandbox import activity
from metasync.sandbox.delivery import record_budget, record_status, set_profile
from metasync.sandbox.shapes import review_feedback
from metasync.sandbox.world import ISSUE, World, meta_time

__all__ = ["ACTIONS", "MutationError", "add_today", "mutate"]

ACTIONS = (
    "pause",
    "activate",
    "archive",
    "delete",
    "unlist",
    "update",
    "issues",
    "clear_issues",
    "purge",
    "learning",
    "performance",
    "disapprove",
)
UPDATABLE = frozenset(
    {
        "name",
        "smart_promotion_type",  # a legacy Advantage+ campaign, for tests of Meta's refusal
        "is_adset_budget_sharing_enabled",
        "daily_budget",
        "lifetime_budget",
        "bid_amount",
        "title",
        "body",
        "targeting",
        "objective",
        "optimization_goal",
    }
)
INHERITED_PAUSE = {"adset": "CAMPAIGN_PAUSED", "ad": "ADSET_PAUSED"}
STATUS_OF = {
    "pause": "PAUSED",
    "activate": "ACTIVE",
    "archive": "ARCHIVED",
    "delete": "DELETED",
    "unlist": "DELETED",
}
LEARNING_STATUSES = ("LEARNING", "SUCCESS", "FAIL")


class MutationError(ValueError):
    """The mutation names an unknown object, action or field."""


def _children(world: World, kind: str, object_id: str) -> list[tuple[str, dict[str, Any]]]:
    if kind == "campaign":
        adsets = [a for a in world.adsets.values() if a["campaign_id"] == object_id]
        ads = [a for a in world.ads.values() if a["campaign_id"] == object_id]
        return [("adset", a) for a in adsets] + [("ad", a) for a in ads]
    if kind == "adset":
        return [("ad", a) for a in world.ads.values() if a["adset_id"] == object_id]
    return []


def _signal(
    world: World, kind: str, obj: dict[str, Any], action: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Set what Meta decides rather than the advertiser (no activity, no ``updated_time``): an
    ad set's learning stage, an ad's performance profile, or an ad's disapproval by review."""
    try:
        if action == "performance":
            set_profile(world, obj["id"], fields)
            return obj
        if action == "disapprove":  # ad review: DISAPPROVED, with Meta's reason
            if kind != "ad":
                raise ValueError("disapprove applies to ads")
            obj.update(effective_status="DISAPPROVED", issues_info=[dict(ISSUE)])
            return review_feedback(obj)
        status = fields.get("status")
        if kind != "adset" or status not in LEARNING_STATUSES:
            raise ValueError(
                f"learning sets an ad set's status to one of {', '.join(LEARNING_STATUSES)}"
            )
    except ValueError as exc:
        raise MutationError(str(exc)) from None
    stage = dict(obj.get("learning_stage_info") or {}, status=status)
    stage.setdefault("attribution_windows", ["7d_click", "1d_view"])
    stage["conversions"] = int(fields.get("conversions", 50 if status == "SUCCESS" else 0))
    if "since" in fields:  # unix seconds of the last significant edit
        stage["last_sig_edit_ts"] = int(fields["since"])
    obj["learning_stage_info"] = stage
    return obj


def mutate(
    world: World,
    object_id: str,
    action: str,
    fields: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply ``action`` to the object; returns it. ``now`` is the new ``updated_time``."""
    found = world.object(object_id)
    if found is None:
        raise MutationError(f"no object {object_id} in the sandbox world")
    if action not in ACTIONS:
        raise MutationError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    kind, obj = found
    if kind == "adcreative" and action != "update":
        raise MutationError("creatives can only be updated")
    moment = now or datetime.now(UTC)
    stamp = meta_time(moment)
    if action in ("learning", "performance", "disapprove"):
        return _signal(world, kind, obj, action, fields or {})
    children = _children(world, kind, object_id)
    if action == "purge":  # Meta stops returning the object (and its children) at all
        tables = {
            "campaign": world.campaigns,
            "adset": world.adsets,
            "ad": world.ads,
            "adcreative": world.creatives,
        }
        for child_kind, child in [(kind, obj), *children]:
            tables[child_kind].pop(child["id"], None)
        world.changes.members.clear()  # budget holders lost ads: their caps are computed again
        world.changes.version += 1
        return obj
    before = dict(obj)
    if action in STATUS_OF:
        record_status(world, obj["id"], STATUS_OF[action], moment)
    if action in ("archive", "delete", "unlist"):
        status = "ARCHIVED" if action == "archive" else "DELETED"
        for _, target in [(kind, obj), *children]:
            target.update(
                status=status, configured_status=status, effective_status=status, updated_time=stamp
            )
            if action == "unlist":
                target["_unlisted"] = True
    elif action == "pause":
        obj.update(
            status="PAUSED",
            configured_status="PAUSED",
            effective_status="PAUSED",
            updated_time=stamp,
        )
        for child_kind, child in children:
            if child["effective_status"] == "ACTIVE":
                child["effective_status"] = INHERITED_PAUSE[child_kind]  # updated_time unchanged
    elif action == "activate":
        obj.update(
            status="ACTIVE",
            configured_status="ACTIVE",
            effective_status="ACTIVE",
            updated_time=stamp,
        )
        for _, child in children:
            if (
                child["effective_status"] in INHERITED_PAUSE.values()
                and child["status"] == "ACTIVE"
            ):
                child["effective_status"] = "ACTIVE"
    elif action == "update":
        unknown = sorted(set(fields or {}) - UPDATABLE)
        if unknown:
            raise MutationError(f"fields {unknown} cannot be updated; allowed: {sorted(UPDATABLE)}")
        if (fields or {}).get("daily_budget") is not None:
            record_budget(world, obj, fields["daily_budget"], moment)  # type: ignore[index]
        obj.update(fields or {})
        obj["updated_time"] = stamp
    elif action == "issues":
        obj.update(
            issues_info=[dict(ISSUE, level=kind.upper())],
            effective_status="WITH_ISSUES",
            updated_time=stamp,
        )
    elif action == "clear_issues":
        obj.update(issues_info=[], effective_status=obj["status"], updated_time=stamp)
    activity.record(world, kind, obj, before, stamp)
    return obj


def add_today(world: World, account_id: str | None = None) -> list[str]:
    """Give accounts insights for their (partial) today; returns the accounts changed."""
    changed = []
    for candidate in world.accounts:
        if account_id in (None, candidate):
            world.extra_days[candidate] = world.account_today(candidate)
            changed.append(candidate)
    if account_id is not None and not changed:
        raise MutationError(f"no ad account {account_id} in the sandbox world")
    return changed
