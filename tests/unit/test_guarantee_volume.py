"""A cost decision's guarantee names the volume the test needs to catch a 2 x cost."""

from __future__ import annotations

from metasync.models import Recommendation
from metasync.optimize.guarantee import VOLUME_NEEDED, plain_guarantee


def _pause(volume: dict[str, object]) -> Recommendation:
    return Recommendation(
        tenant_id="t1",
        action="pause",
        evidence={
            "test": "anytime-valid",
            "confidence": 0.95,
            "window": {"first": "2026-09-01", "last": "2026-09-14", "since_start": True},
            "volume": volume,
        },
    )


def test_a_cost_decision_says_the_volume_it_needs_and_has() -> None:
    enough = plain_guarantee(
        _pause({"conversions_a_day_at_target": 10.0, "needed_a_day": 7.17, "enough": True})
    )
    assert "at most 5%" in enough
    assert "caught within 14 days with 80 % at 7.17 conversions a day" in enough
    assert "(it has 10)" in enough
    varied = plain_guarantee(
        _pause({"conversions_a_day_at_target": 10.0, "needed_a_day": None, "enough": False})
    )
    assert "no volume lets a change to 2 x its target be caught within 14 days" in varied
    # what no volume buys is stated in days instead
    assert VOLUME_NEEDED["100 %"]["from_start_1d"] is None
    assert "days" in str(VOLUME_NEEDED["100 %"]["days_instead"])
