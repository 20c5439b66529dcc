"""The budget rules: reallocation between ad sets, and spend pacing within a day.

Pure functions like :mod:`metasync.optimize.decisions`, but each sees more than one entity-day:

- :func:`reallocate` compares the ad sets of a campaign (or an ad account). Meta gives no
  spend-response curve, so an ad set's *marginal* cost per conversion is estimated by its cost
  over the rule's last ``days`` (what the next unit of budget bought lately). The trade-off: under
  diminishing returns the average understates the marginal cost of the better ad set, so the
  move is kept small (``step``, default 20 %) and made only when the two exact Poisson
  intervals do not overlap (:func:`metasync.optimize.evidence.cost_per_conversion`). One move per
  group per evaluation: the significantly worst ad set gives to the significantly best.
- :func:`pace` reads an ad set's spend by hour of the account's day (an hourly report's rows)
  and flags the days its daily budget was spent before ``before_hour``.

Ad sets without a daily budget of their own (the campaign holds it, or a lifetime budget) are
not subjects of either rule; the guards of :func:`~metasync.optimize.decisions.held_back` apply
to both ends of a move.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from metasync.optimize.decisions import (
    QUIET_HOURS,
    DayFigures,
    Decision,
    Subject,
    describe_bound,
    held_back,
    make_decision,
    span,
    span_totals,
)
from metasync.optimize.evidence import Bound, cost_per_conversion
from metasync.optimize.rules import BudgetReallocationRule, SpendPacingRule

__all__ = ["hour_reached", "pace", "reallocate"]


def _eligible(subject: Subject, now: datetime, quiet_hours: int) -> bool:
    return (
        subject.level == "adset"
        and subject.daily_budget is not None
        and held_back(subject, now, quiet_hours) is None
    )


def reallocate(
    rule: BudgetReallocationRule,
    subjects: list[Subject],
    rows: dict[tuple[str, str], list[DayFigures]],
    now: datetime,
    quiet_hours: int = QUIET_HOURS,
) -> list[Decision]:
    """One move per campaign (or account) whose worst ad set is significantly worse than its
    best; the decision is on the giving ad set, the receiving one is in its evidence."""
    groups: dict[str, list[tuple[Subject, list[DayFigures], Bound]]] = defaultdict(list)
    for subject in subjects:
        days = span(rows.get(("adset", subject.entity_id), []), rule.days)
        if not days or not _eligible(subject, now, quiet_hours):
            continue
        totals = span_totals(days)
        bound = cost_per_conversion(totals["spend"], totals["conversions"], rule.confidence)
        group = subject.account_id if rule.within == "account" else subject.parent_id or ""
        groups[f"{subject.account_id}/{group}"].append((subject, days, bound))
    decisions = []
    for members in groups.values():
        if len(members) < 2:
            continue
        worst = max(members, key=lambda m: (m[2].low, m[0].entity_id))
        best = min(members, key=lambda m: (m[2].high, m[0].entity_id))
        if worst is best or not worst[2].above(best[2].high):
            continue
        decision = _move(rule, worst, best)
        if decision is not None:
            decisions.append(decision)
    return decisions


def _move(
    rule: BudgetReallocationRule,
    worst: tuple[Subject, list[DayFigures], Bound],
    best: tuple[Subject, list[DayFigures], Bound],
) -> Decision | None:
    giver, receiver = worst[0], best[0]
    assert giver.daily_budget is not None and receiver.daily_budget is not None
    floor = int(rule.min_daily_budget * giver.minor_units)
    moved = min(
        int(rule.step * min(giver.daily_budget, receiver.daily_budget)),
        giver.daily_budget - floor,
    )
    if moved <= 0:
        return None
    to: dict[str, Any] = {
        **span_totals(best[1]),
        "entity_id": receiver.entity_id,
        "daily_budget": receiver.daily_budget,
        "daily_budget_after": receiver.daily_budget + moved,
        "cost_per_conversion": describe_bound(best[2]),
    }
    return make_decision(
        rule,
        giver,
        "reallocate_budget",
        {"daily_budget": giver.daily_budget - moved},
        {
            **span_totals(worst[1]),
            "within": rule.within,
            "daily_budget": giver.daily_budget,
            "moved": moved,
            "cost_per_conversion": describe_bound(worst[2]),
            "to": to,
        },
        f"moves {moved} (minor units) a day from ad set {giver.entity_id} (a conversion costs "
        f"at least {worst[2].low:.2f}) to {receiver.entity_id} (at most {best[2].high:.2f}); "
        "the total budget is unchanged",
    )


def hour_reached(spend_by_hour: list[float], budget: float) -> int | None:
    """The hour (0-23) by whose end the day's cumulative spend reached ``budget``, or None."""
    spent = 0.0
    for hour, spend in enumerate(spend_by_hour):
        spent += spend
        if spent >= budget:
            return hour
    return None


def pace(
    rule: SpendPacingRule,
    subject: Subject,
    hourly: dict[str, list[float]],
    now: datetime,
    quiet_hours: int = QUIET_HOURS,
) -> Decision | None:
    """Flag ``subject`` when on ``min_days`` of its last ``days`` (``hourly``: date -> 24
    hours' spend, major units) ``share`` of its daily budget was spent before ``before_hour``."""
    if not _eligible(subject, now, quiet_hours) or not hourly:
        return None
    assert subject.daily_budget is not None
    budget = rule.share * subject.daily_budget / subject.minor_units
    early = []
    recent = sorted(hourly)[-rule.days :]
    for day in recent:
        hour = hour_reached(hourly[day], budget)
        if hour is not None and hour < rule.before_hour:
            early.append(
                {"date": day, "hour": hour, "spend": round(sum(hourly[day][: hour + 1]), 2)}
            )
    if len(early) < rule.min_days:
        return None
    return make_decision(
        rule,
        subject,
        "flag",
        {},
        {
            "first": recent[0],
            "last": recent[-1],
            "daily_budget": subject.daily_budget,
            "spent_early": early,
            "before_hour": rule.before_hour,
            "share": rule.share,
        },
        f"spent {rule.share:.0%} of its daily budget before {rule.before_hour}:00 on "
        f"{len(early)} of {len(recent)} days: it misses the rest of each day",
    )
