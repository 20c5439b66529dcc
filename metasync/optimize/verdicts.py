"""The sequential tests as read from a stream: cost since the start and since each later day,
return by betting, an ad set's cost interval, and the volume a rule needs.

**Cost, with change** (:func:`cost_verdict`). Two families of tests share ``alpha``:

- *since the start* (at ``0.75 alpha``, :data:`START_SHARE`): day by day
  (:func:`metasync.optimize.sequential.cost_evidence_windows`) while the stream keeps every
  day, and never less than the stream's totals (``M = spend / target``, ``N``,
  ``Q = spread / target**2``) read by :func:`metasync.optimize.sequential.cost_evidence`;
- *since each later day* (at ``0.25 alpha / RESTART_DAYS`` each): the day-by-day test over the
  stream's kept days from that day on, so an ad that became 2 x more expensive without anyone
  editing it is judged on its days since, not diluted by its good weeks before.

Each is a test supermartingale from its own start, so by a union bound an ad at or below its
target is ever paused with probability at most ``0.75 alpha`` by the first family, plus
``0.25 alpha / RESTART_DAYS`` for each day a window starts from: **at most alpha within
``RESTART_DAYS`` (90) days of the stream's start, and at most ``alpha / 4`` more for each further
90 days** (a change detector's false alarms grow with time: it has to keep looking).

**Return** (:func:`return_verdict`): betting on ``R_d / (rho0 s_d) - 1`` from the stream's
start, while the stream keeps all its days (:data:`~metasync.optimize.stream.KEPT_DAYS`).

**Not enough data** (:func:`volume`): the conversions a day due at the target for which a cost
of 2 x the target is caught within 14 days of becoming 2 x with chance 0.8, given the entity's
dispersion and how long its days take to mature.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from metasync.optimize.sequential import (
    betting_wealth,
    cost_evidence,
    cost_evidence_windows,
    cost_floor,
    cost_floor_days,
    needed_per_day,
    threshold,
)
from metasync.optimize.stream import Stream

__all__ = [
    "CATCH_DAYS",
    "RESTART_DAYS",
    "START_SHARE",
    "CostVerdict",
    "cost_interval",
    "cost_verdict",
    "return_verdict",
    "volume",
    "volume_note",
]

RESTART_DAYS = 90  # the later starts share their part of alpha over this many days
START_SHARE = 0.75  # of alpha, for the test since the stream's start; the rest for later starts
CATCH_DAYS = 14  # a 2 x cost should be caught within this many days of becoming 2 x
CATCH_POWER = 0.8


@dataclass(frozen=True)
class CostVerdict:
    """A window whose cost test crossed its threshold (money in the account's currency)."""

    first: str
    last: str
    spend: float
    conversions: int
    spread: float
    expected: float
    log_evidence: float
    threshold: float
    restarted: bool  # a window from a later day, not the stream's start
    lowest: float  # anytime lower bound of the window's cost per conversion

    def describe(self) -> dict[str, Any]:
        return {
            "window": {"first": self.first, "last": self.last, "since_start": not self.restarted},
            "window_spend": round(self.spend, 2),
            "window_conversions": self.conversions,
            "expected_conversions": round(self.expected, 4),
            "log_evidence": round(self.log_evidence, 4),
            "threshold": round(self.threshold, 4),
        }


def _span(first: str, last: str) -> int:
    return (date.fromisoformat(last) - date.fromisoformat(first)).days + 1


def cost_verdict(
    stream: Stream,
    target: float,
    alpha: float,
    min_days: int,
    enough: Callable[[float, int], bool],
) -> CostVerdict | None:
    """The window that shows a cost above ``target`` (the stream's start first, else the later
    start with the most evidence over its threshold); None: none does. A window counts only
    with ``min_days`` calendar days and ``enough(spend, conversions)``."""
    last = stream.through
    if last is None:
        return None
    main = threshold(START_SHARE * alpha)
    kept_spend = np.array([d[1] for d in stream.recent])
    kept_counts = np.array([d[2] for d in stream.recent], dtype=float)
    kept_phis = np.array([d[4] for d in stream.recent])
    if _span(stream.start, last) >= min_days and enough(stream.spend, stream.conversions):
        expected = stream.spend / target
        found = float(cost_evidence(expected, stream.conversions, stream.spread / target**2))
        if stream.whole and stream.recent:  # every day kept: the day-by-day evidence
            found = max(
                found,
                float(cost_evidence_windows(kept_spend / target, kept_counts, kept_phis)[0]),
            )
        if found >= main:
            lowest = max(
                cost_floor(stream.spend, stream.conversions, stream.spread, START_SHARE * alpha),
                cost_floor_days(kept_spend, kept_counts, kept_phis, START_SHARE * alpha)
                if stream.whole and stream.recent
                else 0.0,
            )
            return CostVerdict(
                stream.start,
                last,
                stream.spend,
                stream.conversions,
                stream.spread,
                expected,
                found,
                main,
                False,
                lowest,
            )
    skip = sum(1 for d in stream.recent if d[0] <= stream.start)
    later = list(stream.recent[skip:])
    if not later:
        return None
    spend = np.cumsum([d[1] for d in reversed(later)])[::-1]
    conversions = np.cumsum([d[2] for d in reversed(later)])[::-1]
    spreads = np.cumsum([d[4] * d[1] ** 2 for d in reversed(later)])[::-1]
    evidence = cost_evidence_windows(
        kept_spend[skip:] / target, kept_counts[skip:], kept_phis[skip:]
    )
    later_alpha = (1 - START_SHARE) * alpha / RESTART_DAYS
    limit = threshold(later_alpha)
    best: int | None = None
    for i, day in enumerate(later):
        if _span(day[0], last) < min_days or not enough(float(spend[i]), int(conversions[i])):
            continue
        if evidence[i] >= limit and (best is None or evidence[i] > evidence[best]):
            best = i
    if best is None:
        return None
    window = (float(spend[best]), int(conversions[best]), float(spreads[best]))
    start = skip + best
    lowest = cost_floor_days(
        kept_spend[start:], kept_counts[start:], kept_phis[start:], later_alpha
    )
    return CostVerdict(
        later[best][0],
        last,
        window[0],
        window[1],
        window[2],
        window[0] / target,
        float(evidence[best]),
        limit,
        True,
        lowest,
    )


def _return_gains(stream: Stream, rates: np.ndarray) -> tuple[np.ndarray, list[float]]:
    days = [d for d in stream.recent if d[1] > 0]
    revenue = np.array([d[3] / d[1] for d in days])  # return on the day's spend
    gains = np.maximum(revenue[None, :] / rates[:, None] - 1.0, -1.0)
    return gains, [d[1] for d in days]


def return_verdict(stream: Stream, target: float, alpha: float) -> dict[str, float] | None:
    """``{"log_wealth", "threshold", "low"}`` when betting from the stream's start shows a
    return on spend above ``target`` at ``alpha`` (``low``: the anytime lower bound, the
    largest return also rejected); None: it does not, or the stream no longer keeps its
    start's days."""
    if not stream.whole or stream.spend <= 0 or stream.revenue <= 0:
        return None
    limit = threshold(alpha)
    gains, spend = _return_gains(stream, np.array([target]))
    wealth = float(betting_wealth(gains, spend)[0])
    if wealth < limit:
        return None
    estimate = stream.revenue / stream.spend
    grid = np.geomspace(target, max(estimate, target * 1.0001), 40)
    gains, spend = _return_gains(stream, grid)
    rejected = grid[betting_wealth(gains, spend) >= limit]
    return {"log_wealth": wealth, "threshold": limit, "low": float(rejected.max())}


def cost_interval(stream: Stream, alpha: float) -> tuple[float, float]:
    """An anytime interval ``(low, high)`` for the stream's cost per conversion at ``alpha``:
    ``low`` by the cost test at ``alpha / 2`` (dispersion assumed as recorded), ``high`` by
    betting on the counts at ``alpha / 2`` (no assumption on their upper tail; infinite once
    the stream no longer keeps its start's days, or without a conversion)."""
    low = cost_floor(stream.spend, stream.conversions, stream.spread, alpha / 2)
    if not stream.whole or stream.conversions == 0:
        return low, math.inf
    days = [d for d in stream.recent if d[1] > 0]
    spend = np.array([d[1] for d in days])
    counts = np.array([d[2] for d in days], dtype=float)
    estimate = stream.spend / stream.conversions
    grid = np.geomspace(estimate, estimate * 50, 80)  # costs c: null "rate <= 1 / c"
    gains = counts[None, :] * grid[:, None] / spend[None, :] - 1.0
    rejected = betting_wealth(gains, list(spend)) >= threshold(alpha / 2)
    if not rejected.any():
        return low, math.inf
    first = int(np.argmax(rejected))
    return low, float(grid[first]) if rejected[first:].all() else math.inf


def volume(stream: Stream, target: float, alpha: float, maturity: int) -> dict[str, Any]:
    """How many conversions a day the cost rule needs for a 2 x cost to be caught within
    :data:`CATCH_DAYS` days of becoming 2 x (chance 0.8, at the later starts' threshold and the
    stream's newest dispersion) against what the entity has, in plain figures."""
    phi = float(f"{stream.recent[-1][4]:.2g}") if stream.recent else 0.0  # few distinct: cached
    matured = CATCH_DAYS - maturity
    needed = (
        needed_per_day(phi, matured, (1 - START_SHARE) * alpha / RESTART_DAYS, CATCH_POWER)
        if matured > 0
        else None
    )
    has = stream.spend / target / max(stream.days, 1)
    return {
        "conversions_a_day_at_target": round(has, 2),
        "needed_a_day": needed,
        "day_to_day_variation": round(math.sqrt(phi), 3),
        "enough": needed is not None and has >= needed,
    }


def volume_note(
    label: str, target: float, alpha: float, entities: list[tuple[Stream, int]]
) -> str | None:
    """One plain sentence for the evaluation's notes naming how many of ``entities`` (each an
    ad's stream and its maturity in days) have too few conversions for the cost rule
    ``label`` to catch a 2 x cost within :data:`CATCH_DAYS` days, and what it needs; None
    when all have enough."""
    short = []
    for stream, maturity in entities:
        found = volume(stream, target, alpha, maturity)
        if not found["enough"]:
            short.append(found)
    if not short:
        return None
    needs = [s["needed_a_day"] for s in short if s["needed_a_day"] is not None]
    has = [s["conversions_a_day_at_target"] for s in short]
    need = (
        f"it needs {min(needs):g} to {max(needs):g} conversions a day at the target"
        if needs
        else "no volume is enough at their day-to-day variation"
    )
    return (
        f"{label}: {len(short)} ads have too few conversions for a cost of 2 x the target to "
        f"be caught within {CATCH_DAYS} days ({need}; they have {min(has):g} to {max(has):g}): "
        "that they were not paused says nothing about their cost"
    )
