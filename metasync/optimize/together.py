"""One evaluation's budget writes on the same ad set, planned together so that both stand.

An evaluation can raise an ad set's budget (a return rule) and move budget to or from the same
ad set (a reallocation). Written one after the other as they were, the second found the ad set
changed by the first (within the quiet hours, and a budget other than the one its evidence saw)
and expired. So the reallocation is planned after the raise:

- the evaluation names the raise in the reallocation's evidence (``follows``: the ad set and
  the raise's recommendation id), see :func:`plan_after_raises`;
- the reallocation waits while the raise is approved and not yet written
  (:class:`~metasync.optimize.claims.ApplyBusy`: the task tries again shortly), or as long as
  the raise when the account's daily cap holds it (:class:`WaitsForRaise`);
- once the raise is applied, the budget the raise wrote stands for the one the evidence saw,
  and the raise's own write is not taken for someone's change (Meta's ``updated_time`` no later
  than a minute after the raise was applied: Meta's clock and ours may differ by seconds);
- the amount moved is the evidence's, taken from and added to the budgets Meta holds then, so
  the raise's amount and the move's both hold and the move still keeps the pair's total.

A raise that ends any other way (rejected, expired, failed, undone) expires the reallocation
with why: its evidence assumed the raise. Trade-off: a person who changes the ad set within the
minute after the raise is not seen by the quiet-hours guard (the budget guard still sees a
changed budget).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from metasync.models import Recommendation, aware
from metasync.optimize.claims import ApplyBusy
from metasync.optimize.decisions import Decision

__all__ = ["FollowedRaise", "WaitsForRaise", "followed_raises", "plan_after_raises"]

OWN_WRITE_SLACK = timedelta(minutes=1)  # Meta's updated_time vs our applied_at
WAIT_SECONDS = 5.0  # how soon a reallocation waiting for its raise is tried again


def _touched(decision: Decision) -> list[str]:
    """The ad sets a reallocation writes: the giver, then the receiver."""
    receiver = (decision.evidence.get("to") or {}).get("entity_id")
    return [decision.entity_id, *([receiver] if receiver else [])]


def plan_after_raises(decisions: list[Decision], raises: dict[str, str]) -> list[Decision]:
    """``decisions`` with each reallocation that touches an ad set raised by the same
    evaluation (``raises``: ad set id -> the raise's recommendation id) naming the raise in
    its evidence (``follows``); the others as they are."""
    planned = []
    for decision in decisions:
        follows = [
            {"entity_id": adset, "recommendation_id": raises[adset]}
            for adset in _touched(decision)
            if decision.action == "reallocate_budget" and adset in raises
        ]
        if follows:
            decision = replace(decision, evidence={**decision.evidence, "follows": follows})
        planned.append(decision)
    return planned


class WaitsForRaise(Exception):
    """The raise a reallocation follows waits for the account's next day (the daily cap): the
    reallocation waits as long (``until``), still approved, and the recovery sends it then."""

    def __init__(self, message: str, until: datetime | None) -> None:
        super().__init__(message)
        self.until = until


@dataclass(frozen=True)
class FollowedRaise:
    """A raise a reallocation follows, as applied: the budget it wrote (minor units, as Meta
    answers it) and when it was applied."""

    budget: str
    applied_at: datetime

    def wrote(self, updated: datetime | None) -> bool:
        """Meta's last change of the ad set (``updated``) is the raise's own write."""
        return updated is None or updated <= self.applied_at + OWN_WRITE_SLACK


def _written_budget(raise_rec: Recommendation, adset: str) -> str | None:
    for step in raise_rec.plan or []:
        if step.get("entity_id") == adset and "daily_budget" in step.get("after", {}):
            return str(step["after"]["daily_budget"])
    return None


def followed_raises(rec: Recommendation) -> tuple[dict[str, FollowedRaise], str | None]:
    """The raises ``rec`` follows, by ad set, once all are applied; or why ``rec`` cannot go
    on (a raise ended otherwise). Raises :class:`ApplyBusy` while a raise is approved and not
    yet applied."""
    follows: list[dict[str, Any]] = list(rec.evidence.get("follows") or [])
    found: dict[str, FollowedRaise] = {}
    for link in follows:
        adset, ident = link["entity_id"], link["recommendation_id"]
        raise_rec = Recommendation.objects(tenant_id=rec.tenant_id, pk=ident).first()
        state = raise_rec.state if raise_rec is not None else "gone"
        if state == "approved" and raise_rec is not None and raise_rec.waiting_until is not None:
            raise WaitsForRaise(
                f"waits for recommendation {ident} (the raise of ad set {adset} it was planned "
                f"with), held by the daily cap: {raise_rec.error or 'applied later'}",
                aware(raise_rec.waiting_until),
            )
        if state == "approved":
            raise ApplyBusy(
                f"recommendation {rec.pk} waits for recommendation {ident} (the raise of ad set "
                f"{adset} it was planned with) to be applied first",
                WAIT_SECONDS,
            )
        budget = _written_budget(raise_rec, adset) if raise_rec is not None else None
        applied_at = aware(raise_rec.applied_at) if raise_rec is not None else None
        if state != "applied" or budget is None or applied_at is None:
            return {}, (
                f"planned after recommendation {ident} (the raise of ad set {adset}), which is "
                f"{state}: the evidence assumed the raise"
            )
        found[adset] = FollowedRaise(budget, applied_at)
    return found, None
