"""Simulated ads and ad sets for ``bench/optimizer_validity.py``: day-to-day variation of the
conversion rate, heavy-tailed order values, a cost that drifts, and conversions that arrive
late, seen each morning as the mirror would hold them.

- **Conversions**: a day's count is Poisson given the day's rate ``spend / (multiple x
  target) x G_d``, where ``G_d`` (mean 1, coefficient of variation ``variation``) is 1
  (``poisson``), gamma (``gamma``: negative binomial counts, the cost test's model) or lognormal
  (``lognormal``: a heavier right tail than the gamma's).
- **Revenue**: each conversion's order value is lognormal with mean ``ORDER_VALUE`` and log-sd
  ``value_sigma`` (1.5: the largest of 1,000 orders is worth about 200 typical ones).
- **Lag**: with ``lagged``, a day's conversions arrive after it ended with the profile
  :data:`LAG` (55, 75, 85, 90, 94, 97, 100 % visible 0..6 days later; each conversion's delay
  drawn once, so later reads restate upward, as Meta's do).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

import numpy as np

from metasync.optimize.decisions import DayFigures

TARGET = 20.0  # cost per conversion target (account currency)
ORDER_VALUE = 40.0  # mean order value: a return of 2.0 at the target's conversion rate
LAG = (0.55, 0.75, 0.85, 0.90, 0.94, 0.97, 1.0)  # share visible n days after the day ended
START = date(2026, 1, 1)


@dataclass(frozen=True)
class World:
    """What a row simulates: the cost multiple of each day, the rate's day-to-day variation
    and its shape, the spend a day, the lag and the order values' spread."""

    multiple: Callable[[int], float]
    variation: float = 0.0
    shape: str = "poisson"  # poisson | gamma | lognormal
    spend: float = 200.0
    lagged: bool = False
    value_sigma: float = 0.0  # 0: every order worth ORDER_VALUE


def rate_factors(world: World, rng: np.random.Generator, days: int) -> np.ndarray:
    """``G_d``: each day's rate over the entity's mean (mean 1, CV ``world.variation``)."""
    c = world.variation
    if world.shape == "poisson" or c == 0:
        return np.ones(days)
    if world.shape == "gamma":
        return np.asarray(rng.gamma(1 / c**2, c**2, size=days))
    if world.shape == "lognormal":
        sigma = np.sqrt(np.log1p(c**2))
        return np.asarray(np.exp(sigma * rng.standard_normal(days) - sigma**2 / 2))
    raise ValueError(f"unknown shape {world.shape!r}")


@dataclass
class Entity:
    """One simulated ad or ad set: its final conversions per day, each one's delay and the
    day's revenue; the rows of days already final are built once."""

    world: World
    rng: np.random.Generator
    finals: list[int] = field(default_factory=list)
    delays: list[np.ndarray] = field(default_factory=list)
    revenue: list[float] = field(default_factory=list)
    final_rows: list[DayFigures] = field(default_factory=list)

    def grow(self, days: int) -> None:
        if len(self.finals) >= days:
            return
        first = len(self.finals)
        factors = rate_factors(self.world, self.rng, days - first)
        for offset, factor in enumerate(factors):
            day = first + offset
            mean = self.world.spend / (self.world.multiple(day) * TARGET) * factor
            count = int(self.rng.poisson(mean))
            self.finals.append(count)
            lags = (
                np.searchsorted(LAG, self.rng.random(count), side="right")
                if self.world.lagged
                else np.zeros(count, dtype=int)
            )
            self.delays.append(lags)
            self.revenue.append(self._order_values(count))

    def _order_values(self, count: int) -> float:
        sigma = self.world.value_sigma
        if sigma == 0:
            return ORDER_VALUE * count
        location = np.log(ORDER_VALUE) - sigma**2 / 2
        return float(self.rng.lognormal(location, sigma, size=count).sum())

    def _row(self, day: int, seen: int) -> DayFigures:
        share = seen / self.finals[day] if self.finals[day] else 1.0
        return DayFigures(
            (START + timedelta(days=day)).isoformat(),
            self.world.spend,
            10_000,
            100,
            seen,
            round(self.revenue[day] * share, 2),
        )

    def figures(self, today: int, window: int) -> list[DayFigures]:
        """The last ``window`` complete days as the mirror holds them on ``today``."""
        self.grow(today)
        while len(self.final_rows) < today - len(LAG) and len(self.final_rows) < today:
            day = len(self.final_rows)
            self.final_rows.append(self._row(day, self.finals[day]))
        first = max(0, today - window)
        rows = []
        for day in range(first, today):
            if day < len(self.final_rows):
                rows.append(self.final_rows[day])
            else:
                after = today - day - 1
                rows.append(self._row(day, int((self.delays[day] <= after).sum())))
        return rows


def morning(today: int) -> datetime:
    return datetime.combine(START + timedelta(days=today), clock(6), tzinfo=UTC)


def day_of(today: int) -> date:
    return START + timedelta(days=today)
