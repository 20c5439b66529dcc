"""Does the optimizer wait for late conversions: a 1-day-click ad set, 30 % of conversions
reported 2-7 days late.

Simulated (seeded) and decided by the real code exactly as an evaluation runs it: the account's
arrival profile is learned by :func:`metasync.optimize.maturity.learn_profile` from what the
sync's reads saw (each past day read once a day at every age 0 .. 28, as the recent and long
re-reads do), its maturity set by :func:`metasync.optimize.stream.maturity_days`; each morning
every ad's matured stream is advanced with its account's day-to-day variation estimated from
the days before (:func:`metasync.optimize.dispersion.advance_stream` over
:func:`~metasync.optimize.dispersion.dispersion_source`, pooled over the account's
``ACCOUNT_SIZE`` ads, as ``bench/optimizer_validity.py`` does) and
:func:`metasync.optimize.decisions.decide` runs the cost rule; an ad paused stays paused (its
days still count towards its account's variation, as they are still in the mirror).

- **Account and ads**: target 20 (account currency), ``ADS`` ads a row spending 200 a day, so 10
  conversions a day at the target; conversions ``Poisson(spend / (multiple x target))`` a day;
  ``ACCOUNT_SIZE`` ads to an account, every account's ads new on day 0, so a stream starts on
  the first matured day whose variation can be told from the days before it (the account's
  third day).
- **Lag**: 70 % of a day's conversions visible the next day (inside the 1-day click window), 30 %
  reported 2 .. 7 days later (uniformly), each conversion's delay drawn once so later reads
  restate the day upward. The account's 60 days before the test, 200 conversions a day, are
  what the profile is learned from.
- **Rows**: at 1.0 x and 2 x the target, the share of ads paused within 14, 21 and 90 days of
  daily looks and the median day paused (goals: at most 5 % at 1.0 x, at least 80 % of 2 x ads
  within 14 days where the volume allows; a 7-day maturity in a new account cannot pause
  before day 16: the stream starts with day 2 and the rule's 7-day span fills when day 8
  matures); the ``window`` row judges days matured after the attribution window alone (1 day),
  what the optimizer did before it learned the lag.

    .venv/bin/python -m bench.optimizer_lag [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

import numpy as np

from bench.common import save, table
from metasync.optimize.decisions import DayFigures, Subject, decide
from metasync.optimize.dispersion import PRIOR, advance_stream, dispersion_source
from metasync.optimize.maturity import FINAL_AGE, ArrivalProfile, learn_profile
from metasync.optimize.rules import CostPerConversionRule
from metasync.optimize.stream import Stream, matured_through, maturity_days

__all__ = ["lag_rows", "learned_profile"]

SEED = 35
TARGET = 20.0
SPEND_PER_DAY = 200.0
HORIZON = 90  # days of daily looks
ADS = 2000
QUICK_ADS = 300
ACCOUNT_SIZE = 20  # ads pooled for the day-to-day variation's estimate
WINDOW = 40  # days of rows read each morning: the estimate's 28 and the maturity
LATE_SHARE = 0.3
LATE_DAYS = (2, 7)  # a late conversion arrives this many days after the on-time ones
HISTORY = 60  # days of the account's past the profile is learned from
ACCOUNT_CONVERSIONS = 200.0  # a day, in the account's past
ONE_DAY_CLICK = [{"event_type": "CLICK_THROUGH", "window_days": 1}]
START = date(2026, 3, 1)


def _ages(rng: np.random.Generator, count: int) -> np.ndarray:
    """The age (local days after the day) at which each of ``count`` conversions is first
    visible: 1 on time, 1 + 2 .. 7 when late."""
    late = rng.random(count) < LATE_SHARE
    delays = rng.integers(LATE_DAYS[0], LATE_DAYS[1] + 1, count)
    return np.where(late, 1 + delays, 1)


def learned_profile(seed: int = SEED) -> ArrivalProfile | None:
    """The account's profile, learned from its past days as daily reads at every age saw them."""
    rng = np.random.default_rng([seed, 0])
    days = []
    for _ in range(HISTORY):
        ages = _ages(rng, int(rng.poisson(ACCOUNT_CONVERSIONS)))
        days.append({age: float((ages <= age).sum()) for age in range(FINAL_AGE + 1)})
    return learn_profile(days)


def _morning(today: int) -> datetime:
    return datetime.combine(START + timedelta(days=today), clock(6), tzinfo=UTC)


def _day(day: int, conversions: int) -> DayFigures:
    """Day ``day`` of the test as the mirror holds it (``conversions`` visible so far)."""
    when = (START + timedelta(days=day)).isoformat()
    return DayFigures(when, SPEND_PER_DAY, 10_000, 100, conversions, 0.0)


def _ad_reads(rng: np.random.Generator, multiple: float) -> list[list[DayFigures]]:
    """One ad's days as read at each age: ``reads[d][a]`` is day ``d`` read ``a`` local days
    after it (``a`` past the latest arrival: the final read)."""
    counts = rng.poisson(SPEND_PER_DAY / (multiple * TARGET), HORIZON)
    last = 1 + LATE_DAYS[1]
    reads = []
    for day, count in enumerate(counts):
        seen = np.cumsum(np.bincount(_ages(rng, int(count)), minlength=last + 1))
        reads.append([_day(day, int(seen[age])) for age in range(last + 1)])
    return reads


def _rows(reads: list[list[DayFigures]], today: int) -> list[DayFigures]:
    """The last ``WINDOW`` days before ``today`` as the mirror holds them that morning."""
    last = len(reads[0]) - 1
    return [reads[d][min(today - d, last)] for d in range(max(0, today - WINDOW), today)]


def pause_days(multiple: float, maturity: int, ads: int, seed: int = SEED) -> list[int | None]:
    """The day each of ``ads`` ads at ``multiple`` x the target is paused (None: never within
    the horizon), its days matured after ``maturity`` days, ``ACCOUNT_SIZE`` ads to an account
    evaluated together as an evaluation does."""
    rng = np.random.default_rng([seed, int(multiple * 100), maturity])
    rule = CostPerConversionRule(kind="cost_per_conversion", target=TARGET)
    found: list[int | None] = []
    for first in range(0, ads, ACCOUNT_SIZE):
        size = min(ACCOUNT_SIZE, ads - first)
        reads = [_ad_reads(rng, multiple) for _ in range(size)]
        subjects = [
            Subject("ad", f"ad{first + i}", "1", "ACTIVE", maturity_days=maturity)
            for i in range(size)
        ]
        streams: list[Stream | None] = [None] * size
        paused: list[int | None] = [None] * size
        for today in range(1, HORIZON + 1):
            rows = [_rows(r, today) for r in reads]
            source = dispersion_source(rows, PRIOR)  # as account_sources: a new tenant
            through = matured_through(START + timedelta(days=today - 1), maturity)
            for i in range(size):
                if paused[i] is not None:
                    continue
                streams[i] = advance_stream(streams[i], rows[i], through, source)
                decision = decide(rule, subjects[i], rows[i], _morning(today), stream=streams[i])
                if decision is not None:
                    paused[i] = today
        found += paused
    return found


def _share(days: list[int | None], within: int) -> float:
    return sum(1 for d in days if d is not None and d <= within) / len(days)


def lag_rows(quick: bool) -> list[dict[str, Any]]:
    """The lag scenario's rows: at 1.0 x and 2 x the target with the learned maturity, and at
    1.0 x with the attribution window's (``maturity`` "window"); shares in percent, and the
    median morning (days after the first day, day 0) of the ads paused within the horizon."""
    ads = QUICK_ADS if quick else ADS
    profile = learned_profile()
    learned = maturity_days(ONE_DAY_CLICK, profile)
    rows = []
    cases = [(1.0, learned, "learned"), (2.0, learned, "learned"), (1.0, 1, "window")]
    for multiple, maturity, basis in cases:
        days = pause_days(multiple, maturity, ads)
        paused = [d for d in days if d is not None]
        rows.append(
            {
                "scenario": "1-day click, 30 % of conversions 2-7 days late",
                "multiple": multiple,
                "maturity": basis,
                "maturity_days": maturity,
                "ads": ads,
                "paused_within_14_days_pct": round(100 * _share(days, 14), 1),
                "paused_within_21_days_pct": round(100 * _share(days, 21), 1),
                "paused_within_90_days_pct": round(100 * _share(days, HORIZON), 1),
                "median_pause_day": statistics.median(paused) if paused else None,
                "profile_days": profile.days if profile else 0,
            }
        )
    return rows


def main() -> None:
    started = time.monotonic()
    rows = lag_rows("--quick" in sys.argv)
    headers = ["cost", "maturity", "days", "ads", "14 days %", "21 days %", "90 days %"]
    headers.append("median day")
    keys = ["maturity", "maturity_days", "ads", "paused_within_14_days_pct"]
    keys += ["paused_within_21_days_pct", "paused_within_90_days_pct", "median_pause_day"]
    print(table(headers, [[f"{r['multiple']}x", *(r[k] for k in keys)] for r in rows]))
    results = {"rows": rows, "seconds": round(time.monotonic() - started, 1)}
    print(f"\n{results['seconds']} s; saved {save('optimizer_lag', results)}")


if __name__ == "__main__":
    main()
