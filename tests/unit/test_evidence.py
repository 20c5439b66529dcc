"""The optimizer's statistics: exact Poisson bounds and the decisions they allow."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metasync.optimize.evidence import conversion_bounds, cost_per_conversion, return_on_spend


def test_the_exact_poisson_interval_matches_published_values() -> None:
    # Garwood's 95 % interval, as tabulated (e.g. 0 -> [0, 3.689], 2 -> [0.242, 7.225])
    low, high = conversion_bounds(0)
    assert low == 0 and math.isclose(high, 3.689, abs_tol=1e-3)
    low, high = conversion_bounds(2)
    assert math.isclose(low, 0.242, abs_tol=1e-3) and math.isclose(high, 7.225, abs_tol=1e-3)
    low, high = conversion_bounds(10)
    assert math.isclose(low, 4.795, abs_tol=1e-3) and math.isclose(high, 18.390, abs_tol=1e-3)


def test_a_two_conversion_ad_is_not_significantly_too_expensive_at_twice_the_target() -> None:
    target = 20.0
    # 2 conversions for 80.00: the point estimate (40.00) is twice the target ...
    bound = cost_per_conversion(80.0, 2)
    assert bound.estimate == 40.0
    # ... but the optimistic end of the interval is not beyond it: no pause
    assert not bound.above(target)
    # 40 conversions at the same cost per conversion are evidence enough
    assert cost_per_conversion(1600.0, 40).above(target)


def test_no_conversions_decide_only_after_enough_spend() -> None:
    target = 10.0
    assert not cost_per_conversion(30.0, 0).above(target), "3 x target spent: too early"
    assert cost_per_conversion(40.0, 0).above(target), "4 x target spent with none: too expensive"
    assert cost_per_conversion(40.0, 0).estimate is None


def test_return_on_spend_bound_and_its_edges() -> None:
    strong = return_on_spend(spend=100.0, value=600.0, conversions=30)
    assert strong.estimate == 6.0 and strong.below(10.0) and strong.above(3.0)
    weak = return_on_spend(spend=100.0, value=600.0, conversions=2)
    assert not weak.above(3.0), "2 conversions cannot show a 3x return significantly"
    nothing = return_on_spend(spend=0.0, value=0.0, conversions=0)
    assert nothing.estimate is None and not nothing.above(0.0)


@given(st.integers(min_value=0, max_value=5000))
def test_the_interval_holds_the_count_and_widens_with_confidence(count: int) -> None:
    low, high = conversion_bounds(count)
    assert low <= count <= high
    wider = conversion_bounds(count, 0.99)
    assert wider[0] <= low and wider[1] >= high


def test_bad_input_names_the_problem() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        conversion_bounds(-1)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        conversion_bounds(3, 1.5)
