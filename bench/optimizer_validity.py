"""Do the optimizer's decisions keep their error rates as deployed: evaluated every day, on
immature days, over many ad sets?

Simulated Poisson conversions (seeded), decided by the real decision code exactly as an
evaluation runs it: each morning an entity's matured stream is advanced
(:func:`metasync.optimize.stream.next_stream`) and :func:`metasync.optimize.decisions.decide`
(the cost rule) or :func:`metasync.optimize.budgets.reallocate` is called; an ad paused stays
paused. Beside it, the test metasync used before (an exact 95 % Poisson interval on the last 7
days, yesterday included, re-run at every look), so the table shows what the change bought.

- **Ads**: ``ADS`` ads per row, each spending ``SPEND_PER_DAY`` (account currency) a day from
  day 0, with conversions ``Poisson(spend / (multiple x target))`` a day; target 20, the rule's
  defaults (confidence 0.95). *Lag*: a day's conversions arrive after it ended with the profile
  55, 75, 85, 90, 94, 97, 100 % visible 0..6 days later (each conversion's delay drawn once, so
  later reads restate upward, as Meta's do); the deployed rule reads matured days only (7-day
  click window).
- **False pauses**: the share of ads at 1.0 x and 0.9 x the target paused within 30 and 90
  days of daily looks (goal: at most 5 % at 1.0 x and 2.5 % at 0.9 x over 90 days).
- **Power**: ads at 1.5 x and 2 x: the share paused within 14 and 90 days and the median day of
  the pause (goal: at least 80 % of 2 x ads within 14 days).
- **Pointless reallocations**: ``CAMPAIGNS`` campaigns of k = 2, 5, 10, 20 identical ad sets
  (cost = target, ``SPEND_PER_DAY`` each), the share with any move within 90 days (goal: at most
  5 %); and the power: campaigns whose first ad set costs 2 x the others, moved within 30 and
  90 days.

    .venv/bin/python -m bench.optimizer_validity [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

import numpy as np

from bench.common import save, table
from metasync.optimize.budgets import reallocate
from metasync.optimize.decisions import DayFigures, Subject, decide
from metasync.optimize.evidence import cost_per_conversion
from metasync.optimize.rules import BudgetReallocationRule, CostPerConversionRule
from metasync.optimize.stream import Stream, matured_through, next_stream

SEED = 25
TARGET = 20.0
SPEND_PER_DAY = 200.0  # 10 conversions a day at the target
HORIZON = 90  # days of daily looks
ADS = 1000
CAMPAIGNS = 400
LAG = (0.55, 0.75, 0.85, 0.90, 0.94, 0.97, 1.0)  # share visible n days after the day ended
START = date(2026, 1, 1)
MATURITY = 7  # days: the default attribution setting's click window


@dataclass
class Entity:
    """One simulated ad or ad set: its final conversions per day and each one's delay."""

    rate: float  # conversions per unit of spend
    rng: np.random.Generator
    lagged: bool
    finals: list[int] = field(default_factory=list)
    delays: list[np.ndarray] = field(default_factory=list)
    stream: Stream | None = None

    def grow(self, days: int) -> None:
        while len(self.finals) < days:
            count = int(self.rng.poisson(SPEND_PER_DAY * self.rate))
            self.finals.append(count)
            lags = np.searchsorted(LAG, self.rng.random(count), side="right")
            self.delays.append(lags if self.lagged else np.zeros(count, dtype=int))

    def seen(self, day: int, today: int) -> int:
        """Conversions of ``day`` visible on the morning of ``today``."""
        after = today - day - 1
        return int((self.delays[day] <= after).sum())

    def figures(self, today: int, window: int) -> list[DayFigures]:
        """The last ``window`` complete days as the mirror holds them on ``today``."""
        self.grow(today)
        first = max(0, today - window)
        return [
            DayFigures((START + timedelta(days=d)).isoformat(), SPEND_PER_DAY, 10_000, 100,
                       self.seen(d, today), 0.0)
            for d in range(first, today)
        ]  # fmt: skip


def _morning(today: int) -> datetime:
    return datetime.combine(START + timedelta(days=today), clock(6), tzinfo=UTC)


def _advance(entity: Entity, today: int, rows: list[DayFigures]) -> Stream | None:
    yesterday = START + timedelta(days=today - 1)
    entity.stream = next_stream(entity.stream, rows, matured_through(yesterday, MATURITY))
    return entity.stream


def _old_cost_rule(rows: list[DayFigures]) -> bool:
    """The test before: exact 95 % interval on the last 7 days, yesterday included."""
    window = rows[-7:]
    spend = sum(r.spend for r in window)
    conversions = sum(r.conversions for r in window)
    enough = conversions >= 5 or spend >= 3 * TARGET
    return enough and cost_per_conversion(spend, conversions).above(TARGET)


def pause_days(multiple: float, lagged: bool, deployed: bool) -> list[int | None]:
    """The day each of ``ADS`` ads is paused (None: never within the horizon)."""
    rng = np.random.default_rng([SEED, int(multiple * 100), lagged, deployed])
    rule = CostPerConversionRule(kind="cost_per_conversion", target=TARGET)
    days: list[int | None] = []
    for n in range(ADS):
        ad = Entity(1 / (multiple * TARGET), rng, lagged)
        subject = Subject("ad", f"ad{n}", "1", "ACTIVE", maturity_days=MATURITY)
        paused = None
        for today in range(1, HORIZON + 1):
            rows = ad.figures(today, 2 * MATURITY + 14)
            if deployed:
                stream = _advance(ad, today, rows)
                fired = decide(rule, subject, rows, _morning(today), stream=stream) is not None
            else:
                fired = _old_cost_rule(rows)
            if fired:
                paused = today
                break
        days.append(paused)
    return days


def _share(days: list[int | None], within: int) -> float:
    return sum(1 for d in days if d is not None and d <= within) / len(days)


def _old_reallocation(members: list[list[DayFigures]]) -> bool:
    bounds = []
    for rows in members:
        window = rows[-7:]
        bounds.append(
            cost_per_conversion(sum(r.spend for r in window), sum(r.conversions for r in window))
        )
    worst = max(bounds, key=lambda b: b.low)
    best = min(bounds, key=lambda b: b.high)
    return worst is not best and worst.above(best.high)


def moved_days(k: int, deployed: bool, first_multiple: float = 1.0) -> list[int | None]:
    """The day each of ``CAMPAIGNS`` campaigns of ``k`` ad sets got its first move (None:
    none within the horizon); the first ad set costs ``first_multiple`` x the others."""
    rng = np.random.default_rng([SEED, k, deployed, int(first_multiple * 100)])
    rule = BudgetReallocationRule(kind="budget_reallocation")
    days: list[int | None] = []
    for c in range(CAMPAIGNS):
        sets = [
            Entity(1 / (TARGET * (first_multiple if i == 0 else 1.0)), rng, lagged=False)
            for i in range(k)
        ]
        subjects = [
            Subject("adset", f"s{c}-{i}", "1", "ACTIVE", daily_budget=20_000, parent_id=f"c{c}")
            for i in range(k)
        ]
        fired = False
        for today in range(1, HORIZON + 1):
            rows = [s.figures(today, 2 * MATURITY + 14) for s in sets]
            if deployed:
                streams: dict[tuple[str, str], Stream] = {}
                for subject, entity, figures in zip(subjects, sets, rows, strict=True):
                    stream = _advance(entity, today, figures)
                    if stream is not None:
                        streams[("adset", subject.entity_id)] = stream
                fired = bool(reallocate(rule, subjects, streams, _morning(today)))
            else:
                fired = _old_reallocation(rows)
            if fired:
                break
        days.append(today if fired else None)
    return days


def main() -> None:
    global ADS, CAMPAIGNS
    if "--quick" in sys.argv:
        ADS, CAMPAIGNS = 200, 100
    started = time.monotonic()
    results: dict[str, Any] = {
        "settings": {"target": TARGET, "spend_per_day": SPEND_PER_DAY, "ads": ADS,
                     "campaigns": CAMPAIGNS, "horizon_days": HORIZON, "lag_profile": LAG,
                     "seed": SEED},
        "pauses": [], "reallocations": [],
    }  # fmt: skip
    rows = []
    for multiple in (1.0, 0.9, 1.5, 2.0):
        for lagged in (False, True):
            for deployed in (False, True):
                days = pause_days(multiple, lagged, deployed)
                paused = [d for d in days if d is not None]
                row = {
                    "multiple": multiple,
                    "lag": lagged,
                    "test": "anytime, matured days" if deployed else "before: 7-day interval",
                    "within_14": _share(days, 14),
                    "within_30": _share(days, 30),
                    "within_90": _share(days, 90),
                    "median_day": statistics.median(paused) if paused else None,
                }
                results["pauses"].append(row)
                rows.append([f"{multiple:.1f}x", "yes" if lagged else "no", row["test"],
                             f"{row['within_14']:.1%}", f"{row['within_30']:.1%}",
                             f"{row['within_90']:.1%}", row["median_day"] or "-"])  # fmt: skip
    print(f"Pauses of ads by true cost / target ({ADS} ads a row, daily looks)")
    print(table(["cost", "lag", "test", "14 days", "30 days", "90 days", "median day"], rows))
    rows = []
    for k in (2, 5, 10, 20):
        before = _share(moved_days(k, False), HORIZON)
        after = _share(moved_days(k, True), HORIZON)
        results["reallocations"].append({"k": k, "before": before, "anytime": after})
        rows.append([k, f"{before:.1%}", f"{after:.1%}"])
    print(f"\nCampaigns of k identical ad sets given a pointless move within {HORIZON} days "
          f"({CAMPAIGNS} campaigns a row)")  # fmt: skip
    print(table(["k", "before: 7-day intervals", "anytime, alpha / k"], rows))
    rows = []
    for k in (2, 5):
        days = moved_days(k, True, first_multiple=2.0)
        moved = [d for d in days if d is not None]
        power = {"k": k, "within_30": _share(days, 30), "within_90": _share(days, 90),
                 "median_day": statistics.median(moved) if moved else None}  # fmt: skip
        results.setdefault("reallocation_power", []).append(power)
        rows.append([k, f"{power['within_30']:.1%}", f"{power['within_90']:.1%}",
                     power["median_day"] or "-"])  # fmt: skip
    print("\nCampaigns whose first ad set costs 2 x the others: moved (anytime, alpha / k)")
    print(table(["k", "30 days", "90 days", "median day"], rows))
    results["seconds"] = round(time.monotonic() - started, 1)
    print(f"\n{results['seconds']} s; saved {save('optimizer_validity', results)}")


if __name__ == "__main__":
    main()
