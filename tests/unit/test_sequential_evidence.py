"""The sequential tests keep their error rates where Poisson counts and known order values do
not hold: counts that vary from day to day, heavy-tailed revenue, a cost that changes, and
they say when an entity has too little volume to be judged."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from metasync.optimize.decisions import DayFigures
from metasync.optimize.dispersion import (
    FLOOR,
    advance_stream,
    estimate_dispersion,
)
from metasync.optimize.sequential import (
    betting_wealth,
    cost_evidence,
    cost_floor,
    needed_per_day,
    threshold,
)
from metasync.optimize.stream import Stream
from metasync.optimize.verdicts import cost_verdict, return_verdict, volume

FIRST = date(2026, 9, 1)


def _nb_counts(
    rng: np.random.Generator, mean: float, phi: float, shape: tuple[int, int]
) -> np.ndarray:
    if phi == 0:
        return rng.poisson(mean, size=shape)
    return rng.poisson(rng.gamma(1 / phi, mean * phi, size=shape))


def _ever_rejected(counts: np.ndarray, due: float, phi: float, alpha: float) -> float:
    """The share of rows (streams) whose cost test ever crossed over its days (daily looks)."""
    days = np.arange(1, counts.shape[1] + 1)
    evidence = cost_evidence(due * days, np.cumsum(counts, axis=1), phi * due**2 * days)
    return float((evidence >= threshold(alpha)).any(axis=1).mean())


@pytest.mark.parametrize("phi", [0.0, 0.25, 1.0])
def test_the_cost_test_holds_its_error_rate_under_day_to_day_variation(phi: float) -> None:
    rng = np.random.default_rng(7)
    runs, alpha = 4000, 0.1
    counts = _nb_counts(rng, 5.0, phi, (runs, 90))  # at the target: 5 due, 5 on average
    rate = _ever_rejected(counts, 5.0, phi, alpha)
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs), rate
    # the variation is what the test needed: read as Poisson, the same counts fail it
    if phi >= 0.25:
        assert _ever_rejected(counts, 5.0, 0.0, alpha) > 2 * alpha
    # and it finds a cost of 2 x the target (2.5 a day where 5 were due)
    expensive = _nb_counts(rng, 2.5, phi, (500, 90))
    assert _ever_rejected(expensive, 5.0, phi, alpha) > 0.9


def test_a_lognormal_rate_is_within_the_gamma_bound_the_test_assumes() -> None:
    # E exp(-u G) <= (1 + u phi)**(-1 / phi) for a mean-1 lognormal G of the same variation
    rng = np.random.default_rng(3)
    for variation in (0.25, 0.5, 1.0):
        phi = variation**2
        sigma = math.sqrt(math.log1p(phi))
        draws = np.exp(sigma * rng.standard_normal(400_000) - sigma**2 / 2)
        for u in (0.5, 2.0, 10.0, 50.0):
            lognormal = float(np.mean(np.exp(-u * draws)))
            assert lognormal <= (1 + u * phi) ** (-1 / phi) * 1.01, (variation, u)


def test_betting_on_revenue_holds_with_heavy_tailed_order_values() -> None:
    rng = np.random.default_rng(11)
    runs, alpha, days = 1000, 0.1, 90
    conversions = rng.poisson(10, size=(runs, days))
    sigma = 1.5  # lognormal order values: the largest of 1,000 is worth ~200 typical ones
    location = math.log(40.0) - sigma**2 / 2
    revenue = np.array(
        [[rng.lognormal(location, sigma, n).sum() for n in row] for row in conversions]
    )
    spend = 200.0  # a return of exactly 2.0 on average
    gains = revenue / (2.0 * spend) - 1.0
    ever = np.zeros(runs, dtype=bool)
    for day in range(1, days + 1, 3):  # a look every third day: wealth only grows at looks
        ever |= betting_wealth(gains[:, :day]) >= threshold(alpha)
    assert ever.mean() <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs), ever.mean()
    # a return of 3.0 is found: the same orders, a third more valuable than the target needs
    better = betting_wealth(revenue * 1.5 / (2.0 * spend) - 1.0)
    assert float((better >= threshold(alpha)).mean()) > 0.8


def _rows(counts: list[int], spend: float = 100.0, revenue: float = 0.0) -> list[DayFigures]:
    return [
        DayFigures((FIRST + timedelta(days=n)).isoformat(), spend, 1000, 50, c, revenue)
        for n, c in enumerate(counts)
    ]


def _stream(rows: list[DayFigures], phi: float = FLOOR) -> Stream:
    through = date.fromisoformat(rows[-1].date)
    stream = advance_stream(None, rows, through, lambda _day: phi)
    assert stream is not None
    return stream


def _enough(spend: float, conversions: int) -> bool:
    return True


def test_a_cost_that_doubles_without_an_edit_is_caught_within_days() -> None:
    # 10 due a day (200 spent, target 20): 45 days at 0.8 x (12.5 a day), then 2 x (5)
    good, bad = [12, 13] * 22 + [12], [5] * 14
    stream = _stream(_rows(good + bad[:10], spend=200.0))
    since_start = cost_evidence(stream.spend / 20, stream.conversions, stream.spread / 400)
    assert since_start < threshold(0.025), "its good weeks hide the change from the start"
    verdict = cost_verdict(stream, 20.0, 0.05, 7, _enough)
    assert verdict is not None and verdict.restarted
    assert verdict.first >= (FIRST + timedelta(days=44)).isoformat(), verdict.first
    assert verdict.threshold == pytest.approx(math.log(90 / (0.25 * 0.05)))
    assert verdict.lowest > 20.0, "the window's cost is above the target at every look"
    # an ad at the target all along: neither the start nor any later day fires
    steady = _stream(_rows([10] * 90, spend=200.0))
    assert cost_verdict(steady, 20.0, 0.05, 7, _enough) is None


def test_the_return_test_bets_on_revenue_not_on_a_value_per_conversion() -> None:
    # 10 conversions a day, revenue alternating 150 and 450 on 100 spent: a return of 3.0
    days = [
        DayFigures(r.date, 100.0, 1000, 50, 10, 150.0 if n % 2 else 450.0)
        for n, r in enumerate(_rows([10] * 20))
    ]
    found = return_verdict(_stream(days), 2.0, 0.05)
    assert found is not None and 2.0 < found["low"] < 3.0
    # the same days at a target of 3.0: no evidence of more
    assert return_verdict(_stream(days), 3.0, 0.05) is None


def test_the_dispersion_estimate_covers_the_truth_and_shrugs_off_a_step() -> None:
    rng = np.random.default_rng(5)
    before = (FIRST + timedelta(days=28)).isoformat()
    for phi in (0.0, 0.25, 1.0):
        estimates: list[float] = []
        for _ in range(40):
            counts = _nb_counts(rng, 10.0, phi, (20, 28))
            found = estimate_dispersion([_rows(list(row)) for row in counts], before)
            assert found is not None, "560 pairs: enough to tell"
            estimates.append(found)
        covered = np.mean([e >= phi for e in estimates])
        assert covered >= 0.75, (phi, covered)  # one standard error over: about 84 %
        assert np.median(estimates) <= phi + 0.15 + phi * 0.5, "the margin stays modest"
    # a rate that halves once, half-way through: one pair of 27 sees it, not the whole window
    stepped = estimate_dispersion([_rows([10] * 14 + [5] * 14) for _ in range(20)], before)
    assert stepped is not None and stepped < 0.05
    # too little to go on: no estimate, and such a day does not enter a stream
    assert estimate_dispersion([_rows([3, 4])], before) is None
    lone = _rows([3, 4, 5, 4, 3, 5, 4, 3, 4, 5, 4, 3, 4])
    stream = advance_stream(
        None, lone, date.fromisoformat(lone[-1].date), lambda day: estimate_dispersion([lone], day)
    )
    assert stream is not None and stream.start == lone[11].date, "10 pairs before day 11"


def test_too_little_volume_is_said_in_figures() -> None:
    # 20 spent a day at a target of 20: 1 conversion due a day, steady counts
    small = _stream(_rows([1] * 20, spend=20.0))
    found = volume(small, 20.0, 0.05, maturity=1)
    assert found["enough"] is False and found["conversions_a_day_at_target"] == 1.0
    assert found["needed_a_day"] is not None and 1.0 < found["needed_a_day"] < 10
    large = _stream(_rows([10] * 20, spend=200.0))
    assert volume(large, 20.0, 0.05, maturity=1)["enough"] is True
    # 100 % day-to-day variation: 13 matured days cannot show a 2 x cost at any volume
    assert needed_per_day(1.0, 13, 0.25 * 0.05 / 90) is None
    assert (
        volume(_stream(_rows([10] * 20, spend=200.0), phi=1.0), 20.0, 0.05, 1)["needed_a_day"]
        is None
    )


def test_the_cost_floor_is_where_the_evidence_reaches_its_threshold() -> None:
    floor = cost_floor(700.0, 14, 0.01 * 7 * 100.0**2, 0.05)
    assert 20.0 < floor < 50.0
    at = cost_evidence(700.0 / floor, 14, 0.01 * 7 * 100.0**2 / floor**2)
    assert float(at) == pytest.approx(threshold(0.05), abs=1e-6)
