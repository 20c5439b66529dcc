"""Budget reallocation and spend pacing as pure functions: who gives, who receives, how much,
and only when the evidence says so; pacing flags budgets spent before the evening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metasync.optimize.budgets import day_ceiling, hour_reached, pace, reallocate
from metasync.optimize.decisions import DayFigures, Subject
from metasync.optimize.dispersion import FLOOR, advance_stream
from metasync.optimize.rules import (
    BudgetReallocationRule,
    RuleError,
    SpendPacingRule,
    parse_rules,
)
from metasync.optimize.stream import Stream

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
REALLOCATE = BudgetReallocationRule(kind="budget_reallocation")
PACING = SpendPacingRule(kind="spend_pacing")


def _adset(entity: str, budget: int | None = 10_000, campaign: str = "c1", **kw: object) -> Subject:
    return Subject(
        "adset",
        entity,
        "1",
        "ACTIVE",
        daily_budget=budget,
        parent_id=campaign,
        **kw,  # type: ignore[arg-type]
    )


def _days(spend: float, conversions: int, count: int = 14) -> Stream:
    """A matured stream of ``count`` days at ``spend`` and ``conversions`` a day, in an
    account whose day-to-day variation is estimated at the floor."""
    first = NOW.date() - timedelta(days=count + 7)
    days = [
        DayFigures((first + timedelta(days=n)).isoformat(), spend, 1000, 50, conversions, 0.0)
        for n in range(count)
    ]
    stream = advance_stream(None, days, first + timedelta(days=count - 1), lambda _day: FLOOR)
    assert stream is not None
    return stream


def test_the_significantly_worst_ad_set_gives_to_the_best_and_the_total_is_kept() -> None:
    subjects = [_adset("worse", 10_000), _adset("better", 5_000), _adset("middle", 8_000)]
    rows = {
        ("adset", "worse"): _days(100, 2),  # 50 a conversion
        ("adset", "better"): _days(100, 20),  # 5 a conversion
        ("adset", "middle"): _days(100, 8),
    }
    [move] = reallocate(REALLOCATE, subjects, rows, NOW)
    assert (move.entity_id, move.action) == ("worse", "reallocate_budget")
    moved = int(0.2 * 5_000)  # 20 % of the smaller budget: the raise stays within +20 %
    assert move.change == {"daily_budget": 10_000 - moved}
    to = move.evidence["to"]
    assert (to["entity_id"], to["daily_budget"], to["daily_budget_after"]) == (
        "better",
        5_000,
        5_000 + moved,
    )
    worst_low = move.evidence["cost_per_conversion"]["low"]
    assert worst_low > to["cost_per_conversion"]["high"], "the intervals do not overlap"
    assert move.evidence["compared"] == 3, "each interval at alpha / 3"


def test_more_ad_sets_compared_need_more_evidence() -> None:
    # two ad sets 2.6 x apart after a week: apart at alpha / 2, not once 20 are compared
    rows = {("adset", "a"): _days(100, 5), ("adset", "b"): _days(100, 13)}
    pair = [_adset("a"), _adset("b")]
    assert len(reallocate(REALLOCATE, pair, rows, NOW)) == 1
    crowd = pair + [_adset(f"x{i}") for i in range(18)]
    rows |= {("adset", f"x{i}"): _days(100, 8) for i in range(18)}
    assert reallocate(REALLOCATE, crowd, rows, NOW) == []


def test_campaigns_sharing_ad_set_budgets_are_left_to_meta() -> None:
    rows = {("adset", "a"): _days(100, 2), ("adset", "b"): _days(100, 20)}
    shared = [_adset("a", budget_sharing=True), _adset("b", budget_sharing=True)]
    assert reallocate(REALLOCATE, shared, rows, NOW) == []


def test_no_move_without_significance_across_campaigns_or_with_a_held_back_ad_set() -> None:
    close = {("adset", "a"): _days(100, 10), ("adset", "b"): _days(100, 14)}
    assert reallocate(REALLOCATE, [_adset("a"), _adset("b")], close, NOW) == []
    apart = {("adset", "a"): _days(100, 2), ("adset", "b"): _days(100, 20)}
    split = [_adset("a", campaign="c1"), _adset("b", campaign="c2")]
    assert reallocate(REALLOCATE, split, apart, NOW) == [], "different campaigns"
    by_account = BudgetReallocationRule(kind="budget_reallocation", within="account")
    assert len(reallocate(by_account, split, apart, NOW)) == 1, "one account"
    learning = [_adset("a"), _adset("b", learning={"status": "LEARNING"})]
    assert reallocate(REALLOCATE, learning, apart, NOW) == [], "the learning one takes no part"
    no_budget = [_adset("a"), _adset("b", budget=None)]
    assert reallocate(REALLOCATE, no_budget, apart, NOW) == []


def test_the_giver_keeps_the_minimum_budget() -> None:
    rows = {("adset", "a"): _days(100, 2), ("adset", "b"): _days(100, 20)}
    [move] = reallocate(REALLOCATE, [_adset("a", 150), _adset("b", 50_000)], rows, NOW)
    assert move.change == {"daily_budget": 120} and move.evidence["moved"] == 30
    assert reallocate(REALLOCATE, [_adset("a", 100), _adset("b", 50_000)], rows, NOW) == []


def _hours(per_hour: float) -> list[float]:
    return [per_hour] * 24


def test_pacing_flags_days_that_reached_metas_ceiling_before_the_evening() -> None:
    assert hour_reached([10.0] * 24, 55.0) == 5
    assert hour_reached([1.0] * 24, 55.0) is None
    assert day_ceiling(100.0, False, 0.0) == 175.0, "a day may spend 75 % above the budget"
    assert day_ceiling(100.0, False, 650.0) == 50.0, "the week's 7 x caps it"
    assert day_ceiling(100.0, True, 0.0) == pytest.approx(210.0), "sharing: + 20 % first"
    subject = _adset("s", budget=10_000)  # 100.00 a day
    # Saturday 28 (the week before spent at the budget: 100 left), Sunday 29 (a new week:
    # 175 allowed, reached at 17:00), Monday 30 (2 an hour: never)
    early = {"2026-11-28": _hours(10), "2026-11-29": _hours(10), "2026-11-30": _hours(2)}
    flag = pace(PACING, subject, early, NOW)
    assert flag is not None and flag.action == "flag" and flag.change == {}
    assert [d["date"] for d in flag.evidence["spent_early"]] == ["2026-11-28", "2026-11-29"]
    assert flag.evidence["spent_early"][0] == {
        "date": "2026-11-28", "hour": 9, "spend": 100.0, "ceiling": 100.0}  # fmt: skip
    assert flag.evidence["spent_early"][1]["hour"] == 17
    once = {"2026-11-29": _hours(10), "2026-11-30": _hours(2)}
    assert pace(PACING, subject, once, NOW) is None, "one day is not a pattern"
    assert pace(PACING, _adset("s", budget=None), early, NOW) is None
    # spending the budget by noon is not running out: Meta lets the day go on to 1.75 x
    mondays = {"2026-11-23": _hours(8), "2026-11-30": _hours(8)}
    assert pace(PACING, subject, mondays, NOW) is None


def test_budget_rules_are_validated_with_their_parameters_named() -> None:
    with pytest.raises(RuleError, match=r"rule 1 \(budget_reallocation\): within"):
        parse_rules("- kind: budget_reallocation\n  within: world\n")
    with pytest.raises(RuleError, match=r"rule 1 \(spend_pacing\): before_hour"):
        parse_rules("- kind: spend_pacing\n  before_hour: 30\n")
    [rule] = parse_rules("- kind: spend_pacing\n  before_hour: 15\n  share: 0.9\n")
    assert isinstance(rule, SpendPacingRule) and (rule.before_hour, rule.share) == (15, 0.9)
