"""Replay a tenant's rules day by day over the mirror's history: what would they have done?

For each of the last ``days`` days D (per account, up to its newest complete day), the rules see
the rows before D, as a live evaluation on the morning of D would have. An ad the replay pauses
stays paused for the rest of it, and its spend from D on is what pausing would have saved (at
most: Meta would have shifted part of it to other ads); a raised budget carries into later days;
a flag is reported once per rule and entity.

What the replay cannot know, and how it decides: an entity counts as running on D when it had a
row the day before (the mirror keeps today's statuses, not each day's); the learning stage is
today's; changes people made in the past are not replayed, so the 72-hour guard holds only after
the replay's own budget changes.
The budget rules (reallocation, pacing) are not replayed: a replayed move would change two ad
sets' later days, which the mirror cannot know. The result is an estimate of the rules' effect,
not a prediction. Money stays in each account's currency: totals are per currency, never added
across currencies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from metasync.models import OptimizerSettings
from metasync.optimize.decisions import DayFigures, Subject, decide, stream_of
from metasync.optimize.dispersion import account_sources
from metasync.optimize.evaluate import lookback_days, subjects_of
from metasync.optimize.figures import daily_figures
from metasync.optimize.money import CurrencyError, applies, check_currencies
from metasync.optimize.rules import Rule, RuleError, parse_rules
from metasync.optimize.settings import tenant_currencies

__all__ = ["Backtest", "BacktestAction", "backtest"]


@dataclass(frozen=True)
class BacktestAction:
    """One action of the replay; ``spend_after``: the entity's spend from ``day`` to the end of
    the replay (for a pause, what it would have saved), in ``currency`` (the account's; None:
    not synced yet), major units."""

    day: str
    rule: str
    level: str
    entity_id: str
    action: str
    change: dict[str, Any]
    spend_after: float
    currency: str | None = None


@dataclass
class Backtest:
    tenant_id: str
    days: int
    actions: list[BacktestAction] = field(default_factory=list)

    @property
    def paused_spend(self) -> dict[str, float]:
        """Spend on what the rules would have paused, from the day they would have, by
        currency (major units; ``""``: accounts whose currency is not known)."""
        totals: dict[str, float] = {}
        for action in self.actions:
            if action.action == "pause":
                code = action.currency or ""
                totals[code] = round(totals.get(code, 0.0) + action.spend_after, 2)
        return dict(sorted(totals.items()))


def _replay_subject(
    subject: Subject,
    history: list[DayFigures],
    rules: list[Rule],
    days: list[date],
    dispersion_of: Callable[[str], float | None],
) -> list[BacktestAction]:
    actions: list[BacktestAction] = []
    flagged: set[str] = set()
    current = replace(subject, status="ACTIVE", changed_at=None)
    for day in days:
        before = [d for d in history if d.date < day.isoformat()]
        if not before or before[-1].date != (day - timedelta(days=1)).isoformat():
            continue  # not running the day before
        morning = datetime.combine(day, time(6), tzinfo=UTC)
        # the matured days since the first row, each day's variation from the account's days
        stream = stream_of(current, before, morning, dispersion_of)
        for rule in rules:
            if not applies(rule, subject.currency):
                continue
            decision = decide(rule, current, before, morning, stream=stream)
            if decision is None or (decision.action == "flag" and rule.label in flagged):
                continue
            after = sum(d.spend for d in history if d.date >= day.isoformat())
            actions.append(
                BacktestAction(
                    day.isoformat(),
                    decision.rule,
                    decision.level,
                    decision.entity_id,
                    decision.action,
                    decision.change,
                    round(after, 2),
                    subject.currency,
                )
            )
            if decision.action == "flag":
                flagged.add(rule.label)
            elif decision.action == "pause":
                return actions
            elif "daily_budget" in decision.change:  # its own change holds it for quiet hours
                budget = int(decision.change["daily_budget"])
                current = replace(current, daily_budget=budget, changed_at=morning)
    return actions


def backtest(
    tenant_id: str,
    days: int = 30,
    now: datetime | None = None,
    rules: list[Rule] | None = None,
) -> Backtest:
    """Replay ``rules`` (default: the tenant's stored ones) over the last ``days`` days; rules
    whose money cannot apply to an account's currency raise
    :class:`~metasync.optimize.rules.RuleError` naming them."""
    if days < 1:
        raise ValueError(f"a backtest needs at least 1 day, not {days}")
    now = now or datetime.now(UTC)
    if rules is not None:
        try:  # rules parsed without the accounts: a plain amount needs one currency
            check_currencies(
                rules, [(n, False) for n in range(len(rules))], tenant_currencies(tenant_id)
            )
        except CurrencyError as exc:
            raise RuleError(str(exc)) from None
    else:
        settings = OptimizerSettings.objects(tenant_id=tenant_id).first()
        rules = (
            parse_rules(settings.rules_yaml, tenant_currencies(tenant_id))
            if settings is not None
            else []
        )
    result = Backtest(tenant_id, days)
    if not rules:
        return result
    subjects, through = subjects_of(tenant_id, now, reach=lookback_days())
    longest = max(2 * rule.days for rule in rules)
    rows = daily_figures(tenant_id, through, days + longest)
    sources = account_sources(
        (s.account_id, s.level, rows.get((s.level, s.entity_id), [])) for s in subjects
    )
    for subject in subjects:
        last = through.get(subject.account_id)
        if last is None:
            continue
        replay_days = [last - timedelta(days=back) for back in range(days - 1, -1, -1)]
        history = rows.get((subject.level, subject.entity_id), [])
        source = sources[(subject.account_id, subject.level)]
        result.actions += _replay_subject(subject, history, rules, replay_days, source)
    result.actions.sort(key=lambda a: (a.day, a.rule, a.entity_id))
    return result
