"""The anytime-valid evidence and the matured stream: the mixtures are (super)martingales under
their nulls, the confidence sequence covers, and a stream adds each matured day once."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import poisson

from metasync.optimize.decisions import DayFigures
from metasync.optimize.sequential import log_evidence, null_bound, rate_interval, threshold
from metasync.optimize.stream import Stream, matured_through, maturity_days, next_stream


def _expectation(expected: float, rate_ratio: float, side: str) -> float:
    """E[M] when the count is Poisson(rate_ratio x expected): exact, summed over the count."""
    mean = rate_ratio * expected
    top = int(8 * expected + 200)  # past the prior's tail: where the mixture's mass is
    counts = np.arange(top)
    logs = [poisson.logpmf(n, mean) + log_evidence(expected, int(n), side) for n in counts]
    return float(math.exp(logsumexp(logs)))


@pytest.mark.parametrize("expected", [0.5, 5.0, 40.0, 300.0])
def test_the_mixtures_are_martingales_under_their_nulls(expected: float) -> None:
    # the two-sided mixture averages exactly 1 at the null rate: a fair bet
    assert _expectation(expected, 1.0, "both") == pytest.approx(1.0, abs=1e-6)
    # one-sided: at most 1 on the whole null side (Ville: P(ever >= 1/alpha) <= alpha)
    for ratio in (1.0, 1.2, 2.0):
        assert _expectation(expected, ratio, "below") <= 1.0 + 1e-6
    for ratio in (1.0, 0.8, 0.5):
        assert _expectation(expected, ratio, "above") <= 1.0 + 1e-6
    # and it grows when the null is false: evidence accumulates against a cost of 2 x target
    assert _expectation(expected, 0.5, "below") > 1.0


def test_the_thresholds_and_bounds_agree_with_the_evidence() -> None:
    assert threshold(0.05) == pytest.approx(math.log(20))
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        threshold(float("nan"))
    bound = null_bound(35, 0.05, "below")
    assert log_evidence(bound, 35, "below") == pytest.approx(threshold(0.05), abs=1e-6)
    assert log_evidence(bound * 1.01, 35, "below") > threshold(0.05)  # more expected: rejected
    low, high = rate_interval(10, 0.05)
    assert 0 < low < 10 < high
    assert rate_interval(0, 0.05)[0] == 0.0, "no conversion: no lower end above 0"
    assert log_evidence(high, 10, "both") == pytest.approx(threshold(0.05), abs=1e-6)


def test_the_confidence_sequence_covers_at_every_look() -> None:
    rng = np.random.default_rng(4)
    misses = 0
    runs = 300
    for _ in range(runs):
        count, mean = 0, 0.0
        for _ in range(60):  # 60 daily looks at 3 expected a day
            count += int(rng.poisson(3.0))
            mean += 3.0
            low, high = rate_interval(count, 0.1)
            if not low <= mean <= high:
                misses += 1
                break
    assert misses / runs <= 0.1, f"{misses} of {runs} sequences missed at some look"


def _rows(first: date, counts: list[int]) -> list[DayFigures]:
    return [
        DayFigures((first + timedelta(days=i)).isoformat(), 10.0, 100, 5, n, 0.0)
        for i, n in enumerate(counts)
    ]


def test_a_stream_adds_matured_days_once_and_restarts_after_a_change() -> None:
    assert maturity_days([{"event_type": "CLICK_THROUGH", "window_days": 1}]) == 1
    assert maturity_days(None) == 7, "Meta's default setting: 7-day click"
    first = date(2026, 11, 1)
    rows = _rows(first, [1] * 20)  # Nov 1 .. Nov 20
    yesterday = date(2026, 11, 20)
    stream = next_stream(None, rows, matured_through(yesterday, 7))
    assert stream == Stream("2026-11-01", "2026-11-13", 130.0, 13, 0.0, 13)
    # a later look adds only the newly matured day; the same look again changes nothing
    later = next_stream(stream, rows + _rows(date(2026, 11, 21), [5]), date(2026, 11, 14))
    assert later is not None and (later.through, later.days, later.conversions) == (
        "2026-11-14", 14, 14)  # fmt: skip
    assert next_stream(later, rows, date(2026, 11, 14)) == later
    # a restated day already counted is not read again (the stream is final)
    restated = _rows(first, [9] * 20)
    assert next_stream(later, restated, date(2026, 11, 14)) == later
    # changed on Nov 16: a new stream from Nov 17, once a matured row is there
    assert next_stream(later, rows, date(2026, 11, 14), changed_on=date(2026, 11, 16)) is None
    moved = next_stream(later, rows, date(2026, 11, 19), changed_on=date(2026, 11, 16))
    assert moved is not None and (moved.start, moved.days) == ("2026-11-17", 3)
