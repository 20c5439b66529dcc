"""Streams carry each day's day-to-day variation through a real MongoDB-wire server: a stream
stored before it was recorded starts over, and an evaluation says which ads have too little
volume to be judged."""

from __future__ import annotations

from datetime import timedelta

from metasync.models import OptimizerStream, Recommendation
from metasync.optimize.evaluate import evaluate_tenant
from metasync.optimize.settings import set_rules
from tests.support.optimizer_mirror import NOW, RULES, YESTERDAY, build_mirror


def test_a_stream_stored_without_its_variation_starts_over_after_its_last_day(mongo: str) -> None:
    build_mirror("v1")
    set_rules("v1", RULES, by="test")
    last = (YESTERDAY - timedelta(days=12)).isoformat()
    OptimizerStream(
        tenant_id="v1",
        level="ad",
        entity_id="a-expensive",
        start=(YESTERDAY - timedelta(days=20)).isoformat(),
        through=last,
        spend=540.0,
        conversions=9,
        days=9,
    ).save()  # as stored before: totals only, their days' variation never fixed
    evaluate_tenant("v1", now=NOW)
    stored = OptimizerStream.objects.get(tenant_id="v1", entity_id="a-expensive")
    assert stored.start > last, "restarted after the old stream's last day"
    assert stored.spread is not None and stored.spread > 0
    assert [d[0] for d in stored.recent] == [
        (YESTERDAY - timedelta(days=n)).isoformat() for n in range(11, 6, -1)
    ]
    assert stored.days == 5 and stored.conversions == 5
    # too short a stream for the rule's 7 days: no pause from the restarted stream yet
    assert not Recommendation.objects(tenant_id="v1", entity_id="a-expensive").count()


def test_an_evaluation_says_which_ads_are_too_small_to_judge(mongo: str) -> None:
    build_mirror("v2")
    set_rules("v2", RULES, by="test")
    result = evaluate_tenant("v2", now=NOW)
    notes = [n for n in result.notes if n.startswith("cost_per_conversion:")]
    assert len(notes) == 1, result.notes
    note = notes[0]
    assert "too few conversions for a cost of 2 x the target to be caught within 14 days" in note
    assert "conversions a day at the target" in note and "they have 0.5 to 3" in note
    paused = Recommendation.objects.get(tenant_id="v2", entity_id="a-expensive")
    volume = paused.evidence["volume"]
    assert volume["conversions_a_day_at_target"] == 3.0 and volume["enough"] is False
    assert volume["needed_a_day"] > 3.0
