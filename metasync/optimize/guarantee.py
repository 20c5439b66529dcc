"""What a recommendation's evidence promises, in one plain sentence: the same words on the
console's recommendations page and in the answers of the MCP server.

The sentence follows the test that produced the recommendation (its ``evidence``, written by
:mod:`metasync.optimize.decisions`): the cost test's guarantee is bounded in time (a change
detector keeps looking, so it spends a little more error every 90 days), the return and
reallocation tests' is over every evaluation. A recommendation proposed by an assistant (MCP)
or a rule's plain threshold carries no statistical test, and the sentence says so rather than
implying a decision was weighed.
"""

from __future__ import annotations

from typing import Any

from metasync.models import Recommendation

__all__ = ["NO_EVIDENCE", "plain_guarantee"]

NO_EVIDENCE = "no statistical evidence: proposed by an assistant, not by a tested rule"


def _alpha(evidence: dict[str, Any]) -> float | None:
    try:
        return 1 - float(evidence["confidence"])
    except (KeyError, TypeError, ValueError):
        return None


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
                "(matured days only)"
            )
        return (
            f"{evidence['test']}: the chance this rule ever acts on an entity that meets its "
            f"target is at most {alpha:.0%}, over every evaluation (matured days only)"
        )
    if rec.action == "flag":
        return "a flag from a rule's threshold: no statistical test, nothing is written"
    return "a rule's threshold on recent days: no statistical test"
