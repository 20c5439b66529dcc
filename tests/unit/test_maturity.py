"""Learning an account's reporting lag from its reads, and the maturity it sets (pure)."""

from __future__ import annotations

import pytest

from metasync.optimize.maturity import (
    DEFAULT_LAG_DAYS,
    FINAL_AGE,
    MIN_FINAL_DAYS,
    TOLERANCE,
    ArrivalProfile,
    learn_profile,
    learned_maturity,
)
from metasync.optimize.stream import maturity_days

ONE_DAY_CLICK = [{"event_type": "CLICK_THROUGH", "window_days": 1}]


def _late_days(n: int, per_day: float = 20.0) -> list[dict[int, float]]:
    """Days read at every age 0 .. FINAL_AGE: 70 % visible from age 1, the other 30 % arriving
    evenly over ages 3 .. 8 (2-7 days past a 1-day window)."""
    days = []
    for _ in range(n):
        seen = {0: 0.0}
        for age in range(1, FINAL_AGE + 1):
            late = 0.3 * per_day * min(max(age - 2, 0), 6) / 6
            seen[age] = 0.7 * per_day + late
        days.append(seen)
    return days


def test_the_profile_is_the_share_of_final_conversions_each_age_saw() -> None:
    profile = learn_profile(_late_days(20))
    assert profile is not None
    assert profile.shares[0] == 0.0
    assert profile.shares[1] == pytest.approx(0.7)
    assert profile.shares[5] == pytest.approx(0.85)
    assert profile.shares[8] == pytest.approx(1.0)
    assert profile.days == 20 and profile.conversions == pytest.approx(400)


def test_days_not_yet_final_teach_nothing() -> None:
    young = [{age: 5.0 for age in range(FINAL_AGE)} for _ in range(30)]  # newest read: age 27
    assert learn_profile(young) is None


def test_an_age_no_read_saw_takes_the_earlier_read_so_it_errs_toward_waiting() -> None:
    profile = learn_profile([{0: 5.0, 2: 8.0, FINAL_AGE: 10.0}] * MIN_FINAL_DAYS)
    assert profile is not None
    assert profile.shares[1] == pytest.approx(0.5)
    assert profile.shares[2:FINAL_AGE] == pytest.approx([0.8] * (FINAL_AGE - 2))


def test_a_day_first_read_when_old_says_nothing_of_younger_ages() -> None:
    first_synced_old = [{9: 10.0, FINAL_AGE: 10.0}] * 10
    read_daily = [{0: 0.0, 1: 10.0, FINAL_AGE: 10.0}] * 10
    profile = learn_profile(first_synced_old + read_daily)
    assert profile is not None
    assert profile.shares[1] == pytest.approx(1.0), "only the days read at age 1 count there"


def test_the_shares_never_fall_with_age() -> None:
    restated_down = [{1: 12.0, 2: 9.0, FINAL_AGE: 10.0}] * MIN_FINAL_DAYS
    profile = learn_profile(restated_down)
    assert profile is not None
    assert profile.shares[1] <= profile.shares[2] == pytest.approx(0.9)


def test_maturity_waits_until_at_most_the_tolerance_is_missing() -> None:
    profile = learn_profile(_late_days(MIN_FINAL_DAYS))
    assert profile is not None and profile.trusted
    # read at age m + 1: missing at age 8 is 0, at age 7 is 5 % (> 2 %)
    assert learned_maturity(1, profile) == 7
    assert profile.missing(8) <= TOLERANCE < profile.missing(7)
    assert maturity_days(ONE_DAY_CLICK, profile) == 7


def test_maturity_is_never_shorter_than_the_attribution_window() -> None:
    prompt = ArrivalProfile((0.0,) + (1.0,) * FINAL_AGE, days=30, conversions=1000)
    assert learned_maturity(1, prompt) == 1
    assert learned_maturity(7, prompt) == 7
    assert maturity_days([{"event_type": "CLICK_THROUGH", "window_days": 7}], prompt) == 7


def test_without_enough_history_the_default_waits_the_longer_of_window_and_seven_days() -> None:
    assert maturity_days(ONE_DAY_CLICK) == DEFAULT_LAG_DAYS == 7
    assert maturity_days(None) == 7, "Meta's default setting: 7-day click"
    few = learn_profile(_late_days(MIN_FINAL_DAYS - 1))
    assert few is not None and not few.trusted
    assert learned_maturity(1, few) == DEFAULT_LAG_DAYS
    small = learn_profile(_late_days(MIN_FINAL_DAYS, per_day=1.0))  # 14 conversions in all
    assert small is not None and not small.trusted
    assert learned_maturity(1, small) == DEFAULT_LAG_DAYS


def test_maturity_stays_within_the_long_re_reads_reach() -> None:
    never = ArrivalProfile((0.5,) * FINAL_AGE + (1.0,), days=30, conversions=1000)
    assert learned_maturity(1, never) == FINAL_AGE - 1
    assert learned_maturity(1, never, reach=10) == 9
    assert learned_maturity(1, None, reach=5) == 4
