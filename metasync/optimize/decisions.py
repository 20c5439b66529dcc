"""Rules as pure functions: an entity's figures in, a decision with its evidence out.

Nothing here reads MongoDB or calls Meta: the caller gathers a :class:`Subject` (the entity's
state as mirrored), its :class:`DayFigures` (complete days, oldest first) and, for the rules
that test a cost or a return, its :class:`~metasync.optimize.stream.Stream` (matured days since
a fixed start), so the same code proposes today, replays history in a backtest and runs in the
validity benchmark. The budget rules, which compare ad sets or read hours, are in
:mod:`metasync.optimize.budgets`. Every decision carries the figures that triggered it and the
statistic with its bound; a rule that does not fire returns None.

The cost and return rules are sequential tests (:mod:`metasync.optimize.sequential`, read
from a stream by :mod:`metasync.optimize.verdicts`) on matured days only. The return rule's
chance of ever raising an ad set at or below its target is at most ``1 - confidence``; the
cost rule, which also restarts from each later day to catch a change, pauses an ad at or
below its target with chance at most ``1 - confidence`` within 90 days of its stream's start
(and at most a quarter of that more per further 90 days), given its day-to-day variation is not
underestimated.

Guards that hold for every rule (:func:`held_back`): an entity not active, an ad set in Meta's
learning phase or learning limited (and an ad of one), one whose campaign Meta no longer lets
anyone update (legacy Advantage+ shopping and app campaigns), or one changed by anyone in the
last ``quiet_hours`` is never acted on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from metasync.optimize.dispersion import advance_stream, dispersion_source
from metasync.optimize.evidence import Bound
from metasync.optimize.money import format_money
from metasync.optimize.rules import (
    CostPerConversionRule,
    CreativeFatigueRule,
    LearningLimitedRule,
    ReturnOnSpendRule,
    Rule,
)
from metasync.optimize.stream import (
    DEFAULT_MATURITY_DAYS,
    Stream,
    matured_through,
)
from metasync.optimize.verdicts import cost_verdict, return_verdict, volume

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
    "stream_of",
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
    maturity_days: int = DEFAULT_MATURITY_DAYS  # its ad set's attribution window
    locked: str | None = None  # why Meta refuses every update of it (None: it does not)
    budget_sharing: bool = False  # its campaign shares up to 20 % of ad set budgets (v24)
    currency: str | None = None  # its account's (ISO 4217; None: not synced yet)


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
    if subject.locked is not None:
        return f"not updatable ({subject.locked})"
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


def span(days: list[DayFigures], count: int, skip: int = 0) -> list[DayFigures]:
    """The rows of ``count`` calendar days ending ``skip`` days before the newest row's day: a
    day without delivery has no row, so the span is days, not rows."""
    if not days:
        return []
    newest = date.fromisoformat(days[-1].date)
    first = (newest - timedelta(days=skip + count - 1)).isoformat()
    last = (newest - timedelta(days=skip)).isoformat()
    return [d for d in days if first <= d.date <= last]


def _sequential_evidence(
    rule: CostPerConversionRule | ReturnOnSpendRule, subject: Subject, stream: Stream
) -> dict[str, Any]:
    """The stream, the rule's target and, for the cost rule, the volume it needs."""
    evidence = {
        **stream.describe(),
        "target": rule.target,
        "currency": subject.currency,
        "confidence": rule.confidence,
        "day_to_day_variation": round(math.sqrt(stream.recent[-1][4]), 3)
        if stream.recent
        else None,
    }
    if isinstance(rule, CostPerConversionRule):
        evidence["volume"] = volume(stream, rule.target, 1 - rule.confidence, subject.maturity_days)
    return evidence


def _cost(rule: CostPerConversionRule, subject: Subject, stream: Stream) -> Decision | None:
    """Pause an ad whose matured days, since its stream's start or since a later day, show by
    the sequential test a cost per conversion above the target
    (:func:`metasync.optimize.verdicts.cost_verdict`)."""
    if subject.level != "ad" or stream.span_days < rule.days:
        return None

    def enough(spend: float, conversions: int) -> bool:
        return conversions >= rule.min_conversions or spend >= rule.spend_multiple * rule.target

    verdict = cost_verdict(stream, rule.target, 1 - rule.confidence, rule.days, enough)
    if verdict is None:
        return None
    evidence = {**_sequential_evidence(rule, subject, stream), **verdict.describe()}
    evidence["test"] = (
        "anytime-valid, day-to-day variation in the bound (metasync/optimize/sequential.py); "
        + ("since a later day: a change" if verdict.restarted else "since the stream's start")
    )
    evidence["cost_per_conversion"] = {
        "estimate": round(verdict.spend / verdict.conversions, 4) if verdict.conversions else None,
        "low": round(verdict.lowest, 4),
        "confidence": rule.confidence,
    }
    days = max(_span_days(verdict.first, verdict.last), 1)
    lowest = format_money(verdict.lowest, subject.currency)
    return make_decision(
        rule,
        subject,
        "pause",
        {"status": "PAUSED"},
        evidence,
        f"saves about {format_money(verdict.spend / days, subject.currency)} a day of "
        f"spend at a cost per conversion of at least {lowest}",
    )


def _span_days(first: str, last: str) -> int:
    return (date.fromisoformat(last) - date.fromisoformat(first)).days + 1


def _return(rule: ReturnOnSpendRule, subject: Subject, stream: Stream) -> Decision | None:
    """Raise an ad set's budget when betting on its matured days' revenue per unit of spend,
    from its stream's start, shows a return above the target
    (:func:`metasync.optimize.verdicts.return_verdict`): no model of the order values."""
    if subject.level != "adset" or subject.daily_budget is None or stream.span_days < rule.days:
        return None
    verdict = return_verdict(stream, rule.target, 1 - rule.confidence)
    if verdict is None:
        return None
    current = subject.daily_budget
    raised = int(current * (1 + rule.step))
    if rule.max_daily_budget is not None:
        raised = min(raised, int(rule.max_daily_budget * subject.minor_units))
    if raised <= current:
        return None
    evidence = _sequential_evidence(rule, subject, stream)
    evidence["log_evidence"] = round(verdict["log_wealth"], 4)
    evidence["threshold"] = round(verdict["threshold"], 4)
    evidence["test"] = "anytime-valid betting on revenue per unit of spend (no value model)"
    evidence["return_on_spend"] = {
        "estimate": round(stream.revenue / stream.spend, 4),
        "low": round(verdict["low"], 4),
        "confidence": rule.confidence,
    }
    evidence["daily_budget"] = current
    budgets = [format_money(b / subject.minor_units, subject.currency) for b in (current, raised)]
    return make_decision(
        rule,
        subject,
        "raise_budget",
        {"daily_budget": raised},
        evidence,
        f"daily budget {budgets[0]} -> {budgets[1]} at a return of at least {verdict['low']:.2f}",
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


def stream_of(
    subject: Subject,
    days: list[DayFigures],
    now: datetime,
    dispersion_of: Callable[[str], float | None] | None = None,
) -> Stream | None:
    """A stream from ``days`` alone (its start: their first matured day, or the day after the
    subject's last change), for a caller that keeps none, like a backtest: the matured days up
    to ``now``'s yesterday (UTC), each day's dispersion from ``dispersion_of`` (default: the
    entity's own days before it, :func:`metasync.optimize.dispersion.estimate_dispersion`; a
    caller with the account's other entities pools them, as an evaluation does)."""
    newest = now.astimezone(UTC).date() - timedelta(days=1)
    changed = subject.changed_at.astimezone(UTC).date() if subject.changed_at else None
    through = matured_through(newest, subject.maturity_days)
    source = dispersion_of if dispersion_of is not None else dispersion_source([days])
    return advance_stream(None, days, through, source, changed)


def decide(
    rule: Rule,
    subject: Subject,
    days: list[DayFigures],
    now: datetime,
    quiet_hours: int = QUIET_HOURS,
    stream: Stream | None = None,
) -> Decision | None:
    """What ``rule`` proposes for ``subject`` given its complete ``days`` (oldest first) and,
    for the cost and return rules, its matured ``stream`` (None: they cannot decide yet)."""
    if isinstance(rule, LearningLimitedRule):
        return _learning_limited(rule, subject, now)  # the one rule about learning itself
    if held_back(subject, now, quiet_hours) is not None or not days:
        return None
    if isinstance(rule, CostPerConversionRule | ReturnOnSpendRule):
        if stream is None:
            return None
        if isinstance(rule, CostPerConversionRule):
            return _cost(rule, subject, stream)
        return _return(rule, subject, stream)
    if isinstance(rule, CreativeFatigueRule):
        return _fatigue(rule, subject, days)
    return None  # budget rules see several ad sets or hours: metasync.optimize.budgets
