"""Optimization rules on plain data: parsing with named errors, and each rule's decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metasync.optimize.decisions import DayFigures, Subject, decide, held_back
from metasync.optimize.dispersion import FLOOR, advance_stream
from metasync.optimize.rules import (
    CostPerConversionRule,
    CreativeFatigueRule,
    LearningLimitedRule,
    ReturnOnSpendRule,
    RuleError,
    parse_rules,
)
from metasync.optimize.stream import Stream, matured_through

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _days(count: int, **figures: float) -> list[DayFigures]:
    start = NOW.date() - timedelta(days=count)
    base = {"spend": 10.0, "impressions": 1000, "clicks": 20, "conversions": 0, "revenue": 0.0}
    return [
        DayFigures(
            date=(start + timedelta(days=i)).isoformat(),
            spend=float(figures.get("spend", base["spend"])),
            impressions=int(figures.get("impressions", base["impressions"])),
            clicks=int(figures.get("clicks", base["clicks"])),
            conversions=int(figures.get("conversions", base["conversions"])),
            revenue=float(figures.get("revenue", base["revenue"])),
            frequency=figures.get("frequency"),
        )
        for i in range(count)
    ]


def _ad(**kwargs: object) -> Subject:
    return Subject(
        **{"level": "ad", "entity_id": "1", "account_id": "9", "status": "ACTIVE", **kwargs}
    )  # type: ignore[arg-type]


def test_rules_parse_with_defaults_and_every_problem_named() -> None:
    rules = parse_rules(
        "rules:\n  - kind: cost_per_conversion\n    target: 20\n  - kind: learning_limited\n"
    )
    assert isinstance(rules[0], CostPerConversionRule) and rules[0].min_conversions == 5
    assert isinstance(rules[1], LearningLimitedRule) and rules[1].days == 7
    with pytest.raises(RuleError) as raised:
        parse_rules(
            "- kind: cost_per_conversion\n  target: -3\n- kind: bogus\n"
            "- kind: creative_fatigue\n  colour: red\n"
        )
    message = str(raised.value)
    assert "rule 1 (cost_per_conversion): target: Input should be greater than 0" in message
    assert "rule 2 (bogus): kind must be one of" in message
    assert "rule 3 (creative_fatigue): colour: Extra inputs are not permitted" in message
    with pytest.raises(RuleError, match="not valid YAML"):
        parse_rules("- kind: [")
    with pytest.raises(RuleError, match="must be a list"):
        parse_rules("kind: cost_per_conversion")
    for bad in (".inf", ".nan", "-.inf"):  # accepted before, then crashed evaluation and apply
        with pytest.raises(RuleError, match="target: Input should be a finite number"):
            parse_rules(f"- kind: cost_per_conversion\n  target: {bad}\n")


def _stream(days: list[DayFigures], maturity: int = 7) -> Stream | None:
    """The matured stream a first evaluation at NOW builds from ``days``, in an account whose
    day-to-day variation is estimated at the floor (counts about as steady as Poisson)."""
    through = matured_through(NOW.date() - timedelta(days=1), maturity)
    return advance_stream(None, days, through, lambda _day: FLOOR)


def test_an_expensive_ad_is_paused_on_matured_days_with_its_evidence() -> None:
    rule = CostPerConversionRule(kind="cost_per_conversion", target=20.0)
    days = _days(14, spend=60.0, conversions=1)
    stream = _stream(days)
    assert stream is not None and stream.days == 7, "yesterday's week is not mature yet"
    expensive = decide(rule, _ad(), days, NOW, stream=stream)
    assert expensive is not None and expensive.change == {"status": "PAUSED"}
    evidence = expensive.evidence
    assert (evidence["spend"], evidence["conversions"], evidence["days"]) == (420.0, 7, 7)
    assert evidence["last"] == (NOW.date() - timedelta(days=8)).isoformat()
    assert evidence["log_evidence"] >= evidence["threshold"] == pytest.approx(3.2834, abs=1e-3)
    assert evidence["cost_per_conversion"]["low"] > 20.0
    # the same ad with only immature days: no stream, no decision, however bad they look
    fresh = _days(7, spend=60.0, conversions=1)
    assert _stream(fresh) is None
    assert decide(rule, _ad(), fresh, NOW, stream=None) is None


def test_a_lucky_or_borderline_ad_is_not_paused() -> None:
    rule = CostPerConversionRule(kind="cost_per_conversion", target=20.0)
    # 2 conversions on 140 spent (70 each) over 7 matured days: not enough evidence
    lucky = _days(14, spend=20.0, conversions=0)
    lucky[0] = DayFigures(lucky[0].date, 20.0, 1000, 20, 2, 0.0)
    assert decide(rule, _ad(), lucky, NOW, stream=_stream(lucky)) is None
    # at the target exactly, a long stream never gets there
    at_target = _days(60, spend=200.0, conversions=10)
    assert decide(rule, _ad(), at_target, NOW, stream=_stream(at_target)) is None


def test_learning_and_recently_changed_entities_are_held_back() -> None:
    rule = CostPerConversionRule(kind="cost_per_conversion", target=20.0)
    days = _days(14, spend=60.0, conversions=1)
    stream = _stream(days)
    learning = _ad(learning={"status": "LEARNING"})
    changed = _ad(changed_at=NOW - timedelta(hours=1))
    paused = _ad(status="PAUSED")
    legacy = _ad(locked="a legacy Advantage+ shopping campaign")
    assert held_back(learning, NOW) == "in Meta's learning phase"
    assert "changed within the last 72 hours" in str(held_back(changed, NOW))
    assert held_back(paused, NOW) == "not active (PAUSED)"
    assert "legacy Advantage+" in str(held_back(legacy, NOW))
    subjects = (learning, changed, paused, legacy)
    assert [decide(rule, s, days, NOW, stream=stream) for s in subjects] == [None] * 4
    assert decide(rule, _ad(), days, NOW, stream=stream) is not None


def test_a_winning_ad_set_gets_a_capped_raise() -> None:
    rule = ReturnOnSpendRule(kind="return_on_spend", target=2.0, max_daily_budget=110.0)
    adset = Subject("adset", "5", "9", "ACTIVE", daily_budget=10_000)
    days = _days(17, spend=100.0, conversions=30, revenue=900.0)  # 10 matured days
    decision = decide(rule, adset, days, NOW, stream=_stream(days))
    assert decision is not None and decision.change == {"daily_budget": 11_000}, (
        "20 % capped at 110.00"
    )
    assert decision.evidence["return_on_spend"]["low"] > 2.0
    # a return at the target (value 20 a conversion, 10 conversions on 100) is not raised
    even = _days(40, spend=100.0, conversions=10, revenue=200.0)
    assert decide(rule, adset, even, NOW, stream=_stream(even)) is None


def test_a_fatigued_creative_is_flagged() -> None:
    rule = CreativeFatigueRule(kind="creative_fatigue")
    week_before = _days(14, clicks=30, frequency=2.0)[:7]
    days = week_before + _days(7, clicks=10, frequency=3.5)
    decision = decide(rule, _ad(), days, NOW)
    assert decision is not None and decision.action == "flag" and decision.change == {}
    assert decision.evidence["ctr_recent"] == pytest.approx(0.01)
    steady = week_before + _days(7, clicks=28, frequency=3.5)
    assert decide(rule, _ad(), steady, NOW) is None
    # a day without delivery leaves no row: the weeks are calendar weeks, not 7 rows each
    gap = week_before[1:] + _days(7, clicks=10, frequency=3.5)
    found = decide(rule, _ad(), gap, NOW)
    assert found is not None and found.evidence["before"] == [gap[0].date, gap[5].date]


def test_learning_limited_for_long_enough_is_flagged_with_metas_stage() -> None:
    rule = LearningLimitedRule(kind="learning_limited", days=7)
    since = int((NOW - timedelta(days=8)).timestamp())
    stage = {"status": "FAIL", "last_sig_edit_ts": since, "conversions": 3}
    adset = Subject("adset", "5", "9", "ACTIVE", learning=stage)
    decision = decide(rule, adset, [], NOW)
    assert decision is not None and decision.evidence["learning_stage_info"] == stage
    recent = {**stage, "last_sig_edit_ts": int((NOW - timedelta(days=2)).timestamp())}
    assert decide(rule, Subject("adset", "5", "9", "ACTIVE", learning=recent), [], NOW) is None
