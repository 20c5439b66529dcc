"""Rules as pure functions: an entity's daily figures in, a decision with its evidence out.

Nothing here reads MongoDB or calls Meta: the caller gathers a :class:`Subject` (the entity's
state as mirrored) and its :class:`DayFigures` (complete days, oldest first), so the same code
proposes today and replays history in a backtest. The budget rules, which compare ad sets or
read hours, are in :mod:`metasync.optimize.budgets`. Every decision carries the rows and figures
that triggered it and the statistic with its bound; a rule that does not fire returns None.

Guards that hold for every rule (:func:`held_back`): an entity not active, an ad set in Meta's
learning phase or learning limited (and an ad of one), or one changed by anyone in the last
``quiet_hours`` is never acted on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from metasync.optimize.evidence import Bound, cost_per_conversion, return_on_spend
from metasync.optimize.rules import (
    CostPerConversionRule,
    CreativeFatigueRule,
    LearningLimitedRule,
    ReturnOnSpendRule,
    Rule,
)

__all__ = [
    "QUIET_HOURS",
    "DayFigures",
    "Decision",
    "Subject",
    "decide",
    "describe_bound",
    "held_back",
    "make_decision",
    "span",
    "span_totals",
]

LEARNING = "LEARNING"
LEARNING_LIMITED = "FAIL"  # Meta's learning_stage_info status for "learning limited"
QUIET_HOURS = 72


@dataclass(frozen=True)
class DayFigures:
    """One entity's metrics on one complete day (account currency, major units)."""

    date: str
    spend: float
    impressions: int
    clicks: int
    conversions: int
    revenue: float
    frequency: float | None = None


@dataclass(frozen=True)
class Subject:
    """An ad or ad set as the mirror holds it. ``daily_budget`` in minor units (None: the
    budget lives elsewhere); ``learning`` is the ad set's (or the ad's ad set's)
    ``learning_stage_info``; ``changed_at`` the last change anyone made to it."""

    level: str
    entity_id: str
    account_id: str
    status: str
    changed_at: datetime | None = None
    learning: dict[str, Any] | None = None
    daily_budget: int | None = None
    minor_units: int = 100  # minor units per major unit of the account's currency
    parent_id: str | None = None  # an ad set's campaign, an ad's ad set


@dataclass(frozen=True)
class Decision:
    """What a rule proposes for one entity, and why."""

    rule: str
    kind: str
    level: str
    entity_id: str
    action: str  # pause, raise_budget, flag
    change: dict[str, Any]  # the write it proposes ({} for a flag)
    evidence: dict[str, Any] = field(default_factory=dict)
    expected: str = ""


def held_back(subject: Subject, now: datetime, quiet_hours: int = QUIET_HOURS) -> str | None:
    """Why no rule may act on ``subject`` now (None: it may)."""
    if subject.status != "ACTIVE":
        return f"not active ({subject.status})"
    stage = (subject.learning or {}).get("status")
    if stage == LEARNING:
        return "in Meta's learning phase"
    if stage == LEARNING_LIMITED:
        return "learning limited"
    if subject.changed_at is not None and now - subject.changed_at < timedelta(hours=quiet_hours):
        return f"changed within the last {quiet_hours} hours ({subject.changed_at.isoformat()})"
    return None


def make_decision(
    rule: Rule,
    subject: Subject,
    action: str,
    change: dict[str, Any],
    evidence: dict[str, Any],
    expected: str,
) -> Decision:
    return Decision(
        rule.label, rule.kind, subject.level, subject.entity_id, action, change, evidence, expected
    )


def describe_bound(bound: Bound) -> dict[str, Any]:
    return {
        "estimate": bound.estimate,
        "low": round(bound.low, 4),
        "high": bound.high if bound.high == float("inf") else round(bound.high, 4),
        "confidence": bound.confidence,
    }


def span_totals(days: list[DayFigures]) -> dict[str, Any]:
    return {
        "first": days[0].date,
        "last": days[-1].date,
        "spend": round(sum(d.spend for d in days), 2),
        "conversions": sum(d.conversions for d in days),
        "revenue": round(sum(d.revenue for d in days), 2),
        "impressions": sum(d.impressions for d in days),
        "clicks": sum(d.clicks for d in days),
    }


def span(days: list[DayFigures], count: int, skip: int = 0) -> list[DayFigures]:
    """The rows of ``count`` calendar days ending ``skip`` days before the newest row's day: a
    day without delivery has no row, so the span is days, not rows."""
    if not days:
        return []
    newest = date.fromisoformat(days[-1].date)
    first = (newest - timedelta(days=skip + count - 1)).isoformat()
    last = (newest - timedelta(days=skip)).isoformat()
    return [d for d in days if first <= d.date <= last]


def _cost(rule: CostPerConversionRule, subject: Subject, days: list[DayFigures]) -> Decision | None:
    if subject.level != "ad":
        return None
    window = span(days, rule.days)
    totals = span_totals(window)
    spend, conversions = totals["spend"], totals["conversions"]
    enough = conversions >= rule.min_conversions or spend >= rule.spend_multiple * rule.target
    bound = cost_per_conversion(spend, conversions, rule.confidence)
    if not (enough and bound.above(rule.target)):
        return None
    return make_decision(
        rule,
        subject,
        "pause",
        {"status": "PAUSED"},
        {**totals, "target": rule.target, "cost_per_conversion": describe_bound(bound)},
        f"saves about {spend / len(window):.2f} a day of spend at a cost per "
        f"conversion of at least {bound.low:.2f}",
    )


def _return(rule: ReturnOnSpendRule, subject: Subject, days: list[DayFigures]) -> Decision | None:
    window = span(days, rule.days)
    if subject.level != "adset" or subject.daily_budget is None or len(window) < rule.days:
        return None  # every one of the days above target: a day without delivery is not
    bounds = [return_on_spend(d.spend, d.revenue, d.conversions, rule.confidence) for d in window]
    overall = return_on_spend(
        sum(d.spend for d in window),
        sum(d.revenue for d in window),
        sum(d.conversions for d in window),
        rule.confidence,
    )
    if not overall.above(rule.target) or any(b.estimate is None for b in bounds):
        return None
    if any((b.estimate or 0) <= rule.target for b in bounds):
        return None  # every day above target, and the span significantly so
    current = subject.daily_budget
    raised = int(current * (1 + rule.step))
    if rule.max_daily_budget is not None:
        raised = min(raised, int(rule.max_daily_budget * subject.minor_units))
    if raised <= current:
        return None
    return make_decision(
        rule,
        subject,
        "raise_budget",
        {"daily_budget": raised},
        {
            **span_totals(window),
            "target": rule.target,
            "return_on_spend": describe_bound(overall),
            "daily_budget": current,
        },
        f"daily budget {current} -> {raised} (minor units) at a return of at least "
        f"{overall.low:.2f}",
    )


def _fatigue(
    rule: CreativeFatigueRule, subject: Subject, days: list[DayFigures]
) -> Decision | None:
    recent, before = span(days, rule.days), span(days, rule.days, skip=rule.days)
    if subject.level != "ad" or not recent or not before:
        return None
    frequency = max((d.frequency or 0.0) for d in recent)
    shown = [sum(d.impressions for d in span) for span in (recent, before)]
    if frequency <= rule.max_frequency or 0 in shown:
        return None
    ctr_recent = sum(d.clicks for d in recent) / shown[0]
    ctr_before = sum(d.clicks for d in before) / shown[1]
    if ctr_before == 0 or ctr_recent >= rule.ctr_ratio * ctr_before:
        return None
    change = {"status": "PAUSED"} if rule.action == "pause" else {}
    return make_decision(
        rule,
        subject,
        rule.action,
        change,
        {
            "frequency": frequency,
            "ctr_recent": round(ctr_recent, 6),
            "ctr_before": round(ctr_before, 6),
            "recent": [recent[0].date, recent[-1].date],
            "before": [before[0].date, before[-1].date],
        },
        f"click-through fell to {ctr_recent / ctr_before:.0%} of the week before",
    )


def _learning_limited(
    rule: LearningLimitedRule, subject: Subject, now: datetime
) -> Decision | None:
    stage = subject.learning or {}
    if subject.level != "adset" or stage.get("status") != LEARNING_LIMITED:
        return None
    since = stage.get("last_sig_edit_ts")
    started = datetime.fromtimestamp(int(since), UTC) if since else None
    if started is None or now - started < timedelta(days=rule.days):
        return None
    return make_decision(
        rule,
        subject,
        "flag",
        {},
        {"learning_stage_info": stage, "limited_since": started.isoformat()},
        "learning limited: delivery is unstable until the ad set gets about 50 conversions a week",
    )


def decide(
    rule: Rule,
    subject: Subject,
    days: list[DayFigures],
    now: datetime,
    quiet_hours: int = QUIET_HOURS,
) -> Decision | None:
    """What ``rule`` proposes for ``subject`` given its complete ``days`` (oldest first)."""
    if isinstance(rule, LearningLimitedRule):
        return _learning_limited(rule, subject, now)  # the one rule about learning itself
    if held_back(subject, now, quiet_hours) is not None or not days:
        return None
    if isinstance(rule, CostPerConversionRule):
        return _cost(rule, subject, days)
    if isinstance(rule, ReturnOnSpendRule):
        return _return(rule, subject, days)
    if isinstance(rule, CreativeFatigueRule):
        return _fatigue(rule, subject, days)
    return None  # budget rules see several ad sets or hours: metasync.optimize.budgets
