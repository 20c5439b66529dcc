"""What a recommendation's evidence promises, in one plain sentence: the same words on the
console's recommendations page and in the answers of the MCP server.

The sentence follows the test that produced the recommendation (its ``evidence``, written by
:mod:`metasync.optimize.decisions`): the cost test's guarantee is bounded in time (a change
detector keeps looking, so it spends a little more error every 90 days), the return and
reallocation tests' is over every evaluation. A recommendation proposed by an assistant (MCP)
or a rule's plain threshold carries no statistical test, and the sentence says so rather than
implying a decision was weighed.

**The volume each guarantee needs** (the cost test's power, :data:`VOLUME_NEEDED`; computed by
:func:`metasync.optimize.sequential.needed_per_day` and measured by
``bench/optimizer_validity.py``): the error rate holds at any volume, but whether a 2 x cost
is *caught* within 14 days depends on the conversions a day due at the target and on the
day-to-day variation. Where the variation is large, more volume does not help: a day's count
then tells the day's rate, not the ad's, and only more days do. The sentence for a cost
decision names the ad's own figures (``evidence.volume``).
"""

from __future__ import annotations

from typing import Any

from metasync.models import Recommendation

__all__ = ["NO_EVIDENCE", "VOLUME_NEEDED", "plain_guarantee"]

NO_EVIDENCE = "no statistical evidence: proposed by an assistant, not by a tested rule"

# conversions a day due at the target for 80 % of 2 x costs caught within 14 days, by the
# day-to-day variation (alpha 0.05; from the start with 1-day / 7-day maturity, and a change
# after weeks at the target); None: no volume is enough, the days needed instead
VOLUME_NEEDED: dict[str, dict[str, float | str | None]] = {
    "steady (10 %)": {"from_start_1d": 3.0, "from_start_7d": 5.8, "change": 7.2},
    "25 %": {"from_start_1d": 3.5, "from_start_7d": 8.3, "change": 10.3},
    "50 %": {
        "from_start_1d": 19.6,
        "from_start_7d": None,
        "change": None,
        "days_instead": "about 14 days from the start, 28 after a change",
    },
    "100 %": {
        "from_start_1d": None,
        "from_start_7d": None,
        "change": None,
        "days_instead": "about 50-60 days from the start, 95 after a change",
    },
}


def _alpha(evidence: dict[str, Any]) -> float | None:
    try:
        return 1 - float(evidence["confidence"])
    except (KeyError, TypeError, ValueError):
        return None


def _volume_clause(volume: Any) -> str:
    """What the entity's volume lets the test catch, from ``evidence.volume``."""
    if not isinstance(volume, dict) or "conversions_a_day_at_target" not in volume:
        return ""
    has = volume["conversions_a_day_at_target"]
    needed = volume.get("needed_a_day")
    if needed is None:
        return (
            f"; at its day-to-day variation no volume lets a change to 2 x its target be "
            f"caught within 14 days (it has {has:g} conversions a day at the target)"
        )
    return (
        f"; a change to 2 x its target is caught within 14 days with 80 % at {needed:g} "
        f"conversions a day at the target (it has {has:g})"
    )


def plain_guarantee(rec: Recommendation) -> str:
    """The guarantee of ``rec``'s test, or why it has none."""
    if rec.source == "assistant":
        return NO_EVIDENCE
    evidence = dict(rec.evidence or {})
    alpha = _alpha(evidence)
    if evidence.get("test") and alpha is not None:
        if "window" in evidence:  # the cost test: since the start, or since a later day
            return (
                f"{evidence['test']}: the chance this rule pauses an entity that meets its "
                f"target is at most {alpha:.0%} within 90 days of its stream's start (and "
                f"{alpha / 4:.2%} more for each further 90 days), over every evaluation "
                "(matured days only)" + _volume_clause(evidence.get("volume"))
            )
        return (
            f"{evidence['test']}: the chance this rule ever acts on an entity that meets its "
            f"target is at most {alpha:.0%}, over every evaluation (matured days only)"
        )
    if rec.action == "flag":
        return "a flag from a rule's threshold: no statistical test, nothing is written"
    return "a rule's threshold on recent days: no statistical test"
