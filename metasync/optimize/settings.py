"""A tenant's optimizer settings and an operator's decisions on recommendations.

Rules are validated before they are stored, so a stored rules text always parses. Moving a
recommendation records who did it and when; only a ``proposed`` one can be approved or rejected.
"""

from __future__ import annotations

from bson import ObjectId

from metasync.models import OptimizerSettings, Recommendation, utcnow
from metasync.models.optimizer import MODES
from metasync.optimize.rules import Rule, parse_rules

__all__ = ["RecommendationError", "decide_recommendation", "set_mode", "set_rules"]


class RecommendationError(ValueError):
    """A recommendation that does not exist for the tenant, or cannot move to that state."""


def _settings(tenant_id: str) -> OptimizerSettings:
    found = OptimizerSettings.objects(tenant_id=tenant_id).first()
    return found if found is not None else OptimizerSettings(tenant_id=tenant_id)


def set_rules(tenant_id: str, text: str, by: str) -> list[Rule]:
    """Validate and store ``tenant_id``'s rules (YAML); raises
    :class:`~metasync.optimize.rules.RuleError` naming every problem, storing nothing."""
    rules = parse_rules(text)
    settings = _settings(tenant_id)
    settings.rules_yaml, settings.updated_at, settings.updated_by = text, utcnow(), by
    settings.save()
    return rules


def set_mode(tenant_id: str, mode: str, by: str) -> None:
    """``off``, ``recommend`` (propose only) or ``apply`` (write approved changes to Meta)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "apply":
        raise ValueError(
            "mode apply is not available yet: metasync proposes and records approvals, and "
            "writes nothing to Meta until its guarded write-back lands; use recommend"
        )
    settings = _settings(tenant_id)
    settings.mode, settings.updated_at, settings.updated_by = mode, utcnow(), by
    settings.save()


def decide_recommendation(
    tenant_id: str, recommendation_id: str, approve: bool, by: str
) -> Recommendation:
    """Approve or reject a proposed recommendation of ``tenant_id`` (another tenant's id is
    reported as unknown, not revealed)."""
    found = (
        Recommendation.objects(tenant_id=tenant_id, pk=recommendation_id).first()
        if ObjectId.is_valid(recommendation_id)
        else None
    )
    if found is None:
        raise RecommendationError(f"no recommendation {recommendation_id} for tenant {tenant_id}")
    if found.state != "proposed":
        raise RecommendationError(
            f"recommendation {recommendation_id} is {found.state}; only a proposed one can be "
            "approved or rejected"
        )
    state = "approved" if approve else "rejected"
    moved = Recommendation.objects(pk=found.pk, state="proposed").update_one(
        set__state=state, set__decided_at=utcnow(), set__decided_by=by
    )
    if not moved:
        raise RecommendationError(f"recommendation {recommendation_id} was decided meanwhile")
    found.reload()
    return found  # type: ignore[no-any-return]
