"""The day-by-day cost evidence (the gamma's exact transform) and the prior of a new tenant's
first days: more power where the totals' bound is loose, the same error rate."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from metasync.optimize.decisions import DayFigures
from metasync.optimize.dispersion import PRIOR, account_sources, advance_stream
from metasync.optimize.sequential import (
    cost_evidence,
    cost_evidence_windows,
    cost_floor_days,
    threshold,
)
from metasync.optimize.verdicts import cost_verdict

FIRST = date(2026, 9, 1)


def _nb(rng: np.random.Generator, mean: float, phi: float, shape: tuple[int, int]) -> np.ndarray:
    return rng.poisson(rng.gamma(1 / phi, mean * phi, size=shape))


def _ever(counts: np.ndarray, due: float, phi: float, alpha: float) -> float:
    """The share of rows whose day-by-day evidence since the first day ever crossed."""
    ever = np.zeros(counts.shape[0], dtype=bool)
    for n, row in enumerate(counts):
        days = np.full(row.size, due)
        phis = np.full(row.size, phi)
        for day in range(1, row.size + 1):
            if cost_evidence_windows(days[:day], row[:day], phis[:day])[0] >= threshold(alpha):
                ever[n] = True
                break
    return float(ever.mean())


@pytest.mark.parametrize("phi", [0.25, 1.0])
def test_the_day_by_day_evidence_holds_its_error_rate(phi: float) -> None:
    rng = np.random.default_rng(17)
    runs, alpha = 1500, 0.1
    rate = _ever(_nb(rng, 10.0, phi, (runs, 60)), 10.0, phi, alpha)
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs), rate


def test_the_day_by_day_evidence_is_never_below_the_totals_and_finds_more() -> None:
    rng = np.random.default_rng(19)
    phi, due, days = 0.25, 10.0, 13  # 50 % day-to-day variation, 10 due a day
    counts = _nb(rng, due / 2, phi, (400, days))  # a cost of 2 x the target
    daily = np.array(
        [cost_evidence_windows(np.full(days, due), row, np.full(days, phi))[0] for row in counts]
    )
    totals = cost_evidence(due * days, counts.sum(axis=1), phi * due**2 * days)
    assert np.all(daily >= totals - 1e-9)
    limit = threshold(0.0375)
    # the exact transform finds clearly more of them within 13 days than the totals' bound
    found_daily, found_totals = float((daily >= limit).mean()), float((totals >= limit).mean())
    assert found_daily >= found_totals + 0.15, (found_daily, found_totals)
    assert float(np.median(daily - totals)) > 0.8


def test_the_floor_of_a_window_is_where_its_evidence_reaches_the_threshold() -> None:
    spend, counts, phis = np.full(10, 200.0), np.full(10, 4.0), np.full(10, 0.25)
    floor = cost_floor_days(spend, counts, phis, 0.05)
    assert 20.0 < floor < 50.0
    found = cost_evidence_windows(spend / floor, counts, phis)[0]
    assert float(found) == pytest.approx(threshold(0.05), abs=1e-6)


def _rows(counts: list[int]) -> list[DayFigures]:
    return [
        DayFigures((FIRST + timedelta(days=n)).isoformat(), 200.0, 1000, 50, c, 0.0)
        for n, c in enumerate(counts)
    ]


def test_a_new_tenants_first_days_enter_streams_with_the_prior() -> None:
    ads = [_rows([5, 4, 6, 5, 3, 6, 4, 5]) for _ in range(20)]
    sources = account_sources(("1", "ad", rows) for rows in ads)
    source = sources[("1", "ad")]
    assert source(FIRST.isoformat()) == PRIOR, "nothing before the first day: the prior"
    assert source((FIRST + timedelta(days=3)).isoformat()) != PRIOR, "pairs before: estimated"
    through = FIRST + timedelta(days=7)
    stream = advance_stream(None, ads[0], through, source)
    assert stream is not None and stream.start == FIRST.isoformat() and stream.days == 8
    assert stream.recent[0][4] == PRIOR
    # 2 x the target's cost from the first day: caught on these 8 days (5 a day where 10 due)
    assert cost_verdict(stream, 20.0, 0.05, 7, lambda _s, _c: True) is not None
