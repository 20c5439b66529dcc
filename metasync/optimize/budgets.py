"""The budget rules: reallocation between ad sets, and spend pacing within a day.

Pure functions like :mod:`metasync.optimize.decisions`, but each sees more than one entity-day:

- :func:`reallocate` compares the ad sets of a campaign (or an ad account). Meta gives no
  spend-response curve, so an ad set's *marginal* cost per conversion is estimated by its cost
  over its matured stream (:mod:`metasync.optimize.stream`). The trade-off: under diminishing
  returns the average understates the marginal cost of the better ad set, so the move is kept
  small (``step``, default 20 %). **Error control over k ad sets and every look**: each of the
  group's ``k`` ad sets gets an anytime interval for its cost per conversion at ``alpha / k``
  (:func:`metasync.optimize.verdicts.cost_interval`: its lower end by the cost test with the
  recorded day-to-day variation, its upper end by betting on the counts, which needs no
  assumption on their upper tail), so all ``k`` hold at every look at once with probability
  ``1 - alpha`` (Bonferroni); a move needs the worst's interval wholly above the best's, which,
  when all ``k`` cost the same, needs one interval to miss: at most ``alpha`` per group, ever.
  One move per group per evaluation; an ad set whose stream outgrew its kept days
  (:data:`~metasync.optimize.stream.KEPT_DAYS`) has no upper end and receives nothing.
- :func:`pace` reads an ad set's spend by hour of the account's day (an hourly report's rows)
  and flags the days it reached what Meta lets it spend that day before ``before_hour``. Meta's
  "About daily budgets": a daily budget is an average; a day may spend up to 75 % more, a
  calendar week (Sunday to Saturday) at most 7 x the budget. With ad set budget sharing (v24,
  the campaign's ``is_adset_budget_sharing_enabled``) an ad set may also take up to 20 % of its
  budget from its siblings: its day's ceiling is ``1.75 x 1.2 x budget`` ("Ad set budget
  sharing", Marketing API bidding guides).

Ad sets without a daily budget of their own (the campaign holds it, or a lifetime budget) are
not subjects of either rule; the guards of :func:`~metasync.optimize.decisions.held_back` apply
to both ends of a move. Campaigns that share ad set budgets are not reallocated: Meta already
moves up to 20 % between their ad sets as it delivers, and a manual move would fight it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from metasync.optimize.decisions import (
    QUIET_HOURS,
    Decision,
    Subject,
    describe_bound,
    held_back,
    make_decision,
)
from metasync.optimize.evidence import Bound
from metasync.optimize.money import format_money
from metasync.optimize.rules import BudgetReallocationRule, SpendPacingRule
from metasync.optimize.sequential import cost_evidence, threshold
from metasync.optimize.stream import Stream
from metasync.optimize.verdicts import cost_interval

__all__ = ["DAY_FLEXIBILITY", "SHARED_SHARE", "day_ceiling", "hour_reached", "pace", "reallocate"]

DAY_FLEXIBILITY = 1.75  # a day may spend up to 75 % above the daily budget
WEEK_DAYS = 7  # a calendar week spends at most 7 x the daily budget
SHARED_SHARE = 0.2  # ad set budget sharing: up to 20 % of a budget moves between ad sets


def _eligible(subject: Subject, now: datetime, quiet_hours: int) -> bool:
    return (
        subject.level == "adset"
        and subject.daily_budget is not None
        and held_back(subject, now, quiet_hours) is None
    )


def cost_bound(stream: Stream, alpha: float) -> Bound:
    """The anytime interval for a stream's cost per conversion at ``alpha``."""
    low, high = cost_interval(stream, alpha)
    estimate = stream.spend / stream.conversions if stream.conversions else None
    return Bound(estimate, low, high, 1 - alpha)


def _may_differ(streams: list[Stream], alpha: float) -> bool:
    """Whether any ad set's cost can be shown above the group's lowest observed cost: a move
    needs the worst's lower end above the best's upper end, which is never below the best's
    observed cost, so without this no interval needs computing."""
    costs = [st.spend / st.conversions for st in streams if st.conversions]
    if not costs:
        return False
    cheapest = min(costs)
    expected = np.array([st.spend / cheapest for st in streams])
    spread = np.array([st.spread / cheapest**2 for st in streams])
    counts = np.array([st.conversions for st in streams])
    return bool((cost_evidence(expected, counts, spread) >= threshold(alpha / 2)).any())


def reallocate(
    rule: BudgetReallocationRule,
    subjects: list[Subject],
    streams: dict[tuple[str, str], Stream],
    now: datetime,
    quiet_hours: int = QUIET_HOURS,
) -> list[Decision]:
    """One move per campaign (or account) whose worst ad set is significantly worse than its
    best, over all ``k`` of the group at once; the decision is on the giving ad set, the
    receiving one is in its evidence."""
    members_of: dict[str, list[tuple[Subject, Stream]]] = defaultdict(list)
    for subject in subjects:
        stream = streams.get(("adset", subject.entity_id))
        if (
            stream is None
            or stream.span_days < rule.days
            or not _eligible(subject, now, quiet_hours)
        ):
            continue
        if subject.budget_sharing and rule.within == "campaign":
            continue  # Meta moves up to 20 % between these ad sets itself
        group = subject.account_id if rule.within == "account" else subject.parent_id or ""
        members_of[f"{subject.account_id}/{group}"].append((subject, stream))
    groups: list[list[tuple[Subject, Stream, Bound]]] = []
    for candidates in members_of.values():
        alpha = (1 - rule.confidence) / len(candidates)  # Bonferroni over the k compared
        if len(candidates) >= 2 and _may_differ([st for _, st in candidates], alpha):
            groups.append([(s, st, cost_bound(st, alpha)) for s, st in candidates])
    decisions = []
    for members in groups:
        worst = max(members, key=lambda m: (m[2].low, m[0].entity_id))
        best = min(members, key=lambda m: (m[2].high, m[0].entity_id))
        if worst is best or not worst[2].above(best[2].high):
            continue
        decision = _move(rule, worst, best, len(members))
        if decision is not None:
            decisions.append(decision)
    return decisions


def _move(
    rule: BudgetReallocationRule,
    worst: tuple[Subject, Stream, Bound],
    best: tuple[Subject, Stream, Bound],
    compared: int,
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
        **best[1].describe(),
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
            **worst[1].describe(),
            "within": rule.within,
            "currency": giver.currency,
            "compared": compared,  # k: each interval at (1 - confidence) / k, anytime
            "daily_budget": giver.daily_budget,
            "moved": moved,
            "cost_per_conversion": describe_bound(worst[2]),
            "to": to,
        },
        f"moves {format_money(moved / giver.minor_units, giver.currency)} a day from ad set "
        f"{giver.entity_id} (a conversion costs at least "
        f"{format_money(worst[2].low, giver.currency)}) to {receiver.entity_id} (at most "
        f"{format_money(best[2].high, giver.currency)}); the total budget is unchanged",
    )


def hour_reached(spend_by_hour: list[float], budget: float) -> int | None:
    """The hour (0-23) by whose end the day's cumulative spend reached ``budget``, or None."""
    spent = 0.0
    for hour, spend in enumerate(spend_by_hour):
        spent += spend
        if spent >= budget:
            return hour
    return None


def day_ceiling(budget: float, sharing: bool, spent_this_week: float) -> float:
    """What Meta lets an ad set spend on a day (major units): 1.75 x its daily budget (with
    sharing, of its budget plus the 20 % it may take), and no more than what is left of 7 x
    that in the calendar week."""
    average = budget * (1 + SHARED_SHARE) if sharing else budget
    return max(0.0, min(DAY_FLEXIBILITY * average, WEEK_DAYS * average - spent_this_week))


def _week_start(day: date) -> date:
    return day - timedelta(days=(day.weekday() + 1) % 7)  # Meta's weeks start on Sunday


def pace(
    rule: SpendPacingRule,
    subject: Subject,
    hourly: dict[str, list[float]],
    now: datetime,
    quiet_hours: int = QUIET_HOURS,
) -> Decision | None:
    """Flag ``subject`` when on ``min_days`` of its last ``days`` (``hourly``: date -> 24
    hours' spend, major units) it had spent ``share`` of its day's ceiling
    (:func:`day_ceiling`) before ``before_hour``: the budget, not the day, ended its delivery.
    Days of the week before the hours read count as spent at the budget's average."""
    if not _eligible(subject, now, quiet_hours) or not hourly:
        return None
    assert subject.daily_budget is not None
    budget = subject.daily_budget / subject.minor_units
    early = []
    recent = sorted(hourly)[-rule.days :]
    for day in recent:
        first = _week_start(date.fromisoformat(day))
        before = [first + timedelta(days=n) for n in range((date.fromisoformat(day) - first).days)]
        spent = sum(
            sum(hourly[d.isoformat()]) if d.isoformat() in hourly else budget for d in before
        )
        ceiling = rule.share * day_ceiling(budget, subject.budget_sharing, spent)
        hour = hour_reached(hourly[day], ceiling) if ceiling > 0 else 0
        if hour is not None and hour < rule.before_hour:
            early.append(
                {"date": day, "hour": hour, "spend": round(sum(hourly[day][: hour + 1]), 2),
                 "ceiling": round(ceiling, 2)}
            )  # fmt: skip
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
            "budget_sharing": subject.budget_sharing,
            "spent_early": early,
            "before_hour": rule.before_hour,
            "share": rule.share,
        },
        f"spent {rule.share:.0%} of what Meta lets it spend in a day (up to 1.75 x its daily "
        f"budget, 7 x in a week) before {rule.before_hour}:00 on {len(early)} of "
        f"{len(recent)} days: it misses the rest of each day",
    )
