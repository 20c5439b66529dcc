"""A tenant's optimizer settings and an operator's decisions on recommendations.

Rules are validated before they are stored, so a stored rules text always parses. Moving a
recommendation records who did it and when; only a ``proposed`` one can be approved or rejected.
"""

from __future__ import annotations

import math
from datetime import timedelta

from bson import ObjectId

from metasync.models import AdAccount, OptimizerSettings, Recommendation, aware, utcnow
from metasync.models.optimizer import MODES
from metasync.optimize.rules import Rule, parse_rules

__all__ = [
    "RecommendationError",
    "UnknownRecommendation",
    "approve_for_apply_mode",
    "decide_recommendation",
    "find_recommendation",
    "set_guards",
    "set_mode",
    "set_rules",
    "tenant_currencies",
]


class RecommendationError(ValueError):
    """A recommendation that does not exist for the tenant, or cannot move to that state."""


class UnknownRecommendation(RecommendationError):
    """No recommendation of that id for the tenant (another tenant's is unknown too)."""


def _settings(tenant_id: str) -> OptimizerSettings:
    found = OptimizerSettings.objects(tenant_id=tenant_id).first()
    return found if found is not None else OptimizerSettings(tenant_id=tenant_id)


def tenant_currencies(tenant_id: str) -> dict[str, str | None]:
    """Each of the tenant's ad accounts (``act_...``) and the currency it spends (None: not
    synced yet), what a rule's money is checked against; accounts Meta no longer returns are
    not."""
    return {
        a.meta_id: (a.currency or "").upper() or None
        for a in AdAccount.objects(tenant_id=tenant_id, deleted_at=None).only("meta_id", "currency")
    }


def set_rules(tenant_id: str, text: str, by: str) -> list[Rule]:
    """Validate and store ``tenant_id``'s rules (YAML), their money against the currencies its
    accounts spend (:mod:`metasync.optimize.money`); raises
    :class:`~metasync.optimize.rules.RuleError` naming every problem, storing nothing."""
    rules = parse_rules(text, tenant_currencies(tenant_id))
    settings = _settings(tenant_id)
    settings.rules_yaml, settings.updated_at, settings.updated_by = text, utcnow(), by
    settings.save()
    return rules


def set_mode(tenant_id: str, mode: str, by: str) -> None:
    """``off``, ``recommend`` (propose; an operator approves and applies) or ``apply`` (the
    optimizer approves and applies its own proposals, within the guards)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")

    settings = _settings(tenant_id)
    settings.mode, settings.updated_at, settings.updated_by = mode, utcnow(), by
    settings.save()


def set_guards(
    tenant_id: str,
    by: str,
    *,
    max_actions_per_account_day: int | None = None,
    max_budget_increase: float | None = None,
    quiet_hours: int | None = None,
    proposal_max_age_hours: int | None = None,
) -> OptimizerSettings:
    """Change the write-back's guards of ``tenant_id`` (None: unchanged); a negative or
    non-finite value is refused, naming the guard, and nothing is stored."""
    settings = _settings(tenant_id)
    for name, value in (
        ("max_actions_per_account_day", max_actions_per_account_day),
        ("max_budget_increase", max_budget_increase),
        ("quiet_hours", quiet_hours),
        ("proposal_max_age_hours", proposal_max_age_hours),
    ):
        if value is not None:
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, not {value}")
            if value < 0 or (name == "proposal_max_age_hours" and value < 1):
                raise ValueError(
                    f"{name} cannot be {'below 1' if value >= 0 else 'negative'}: {value}"
                )
            setattr(settings, name, value)
    settings.updated_at, settings.updated_by = utcnow(), by
    settings.save()
    return settings


def approve_for_apply_mode(tenant_id: str, recommendation_ids: list[str]) -> list[str]:
    """In ``apply`` mode the optimizer approves its own proposals that change something (new
    ones, and earlier ones the latest evaluation decided again: a tenant switched from
    ``recommend`` to ``apply`` has what is still supported applied, not what went stale);
    returns the ids approved (none in other modes)."""
    settings = OptimizerSettings.objects(tenant_id=tenant_id).first()
    if settings is None or settings.mode != "apply":
        return []
    approved = []
    for found in Recommendation.objects(
        tenant_id=tenant_id, pk__in=recommendation_ids, state="proposed"
    ):
        if not found.change:
            continue
        try:
            decide_recommendation(tenant_id, str(found.pk), approve=True, by="optimizer")
        except RecommendationError:
            continue  # too old (now expired), or decided meanwhile: the others go on
        approved.append(str(found.pk))
    return approved


def find_recommendation(tenant_id: str, recommendation_id: str) -> Recommendation:
    """``tenant_id``'s recommendation; another tenant's id (or no valid id) is reported as
    unknown, not revealed."""
    found = (
        Recommendation.objects(tenant_id=tenant_id, pk=recommendation_id).first()
        if ObjectId.is_valid(recommendation_id)
        else None
    )
    if found is None:
        raise UnknownRecommendation(f"no recommendation {recommendation_id} for tenant {tenant_id}")
    return found  # type: ignore[no-any-return]


def decide_recommendation(
    tenant_id: str, recommendation_id: str, approve: bool, by: str
) -> Recommendation:
    """Approve or reject a proposed recommendation of ``tenant_id`` (another tenant's id is
    reported as unknown, not revealed)."""
    found = find_recommendation(tenant_id, recommendation_id)
    if found.state != "proposed":
        raise RecommendationError(
            f"recommendation {recommendation_id} is {found.state}; only a proposed one can be "
            "approved or rejected"
        )
    max_age = _settings(tenant_id).proposal_max_age_hours
    proposed_at = aware(found.proposed_at)
    if approve and proposed_at is not None and utcnow() - proposed_at > timedelta(hours=max_age):
        reason = (
            f"proposed at {proposed_at.isoformat()}, more than {max_age} hours ago: too old to "
            "approve; the next evaluation decides again on fresh evidence"
        )
        Recommendation.objects(pk=found.pk, state="proposed").update_one(
            set__state="expired", set__error=reason
        )
        raise RecommendationError(f"recommendation {recommendation_id} was {reason}")
    state = "approved" if approve else "rejected"
    moved = Recommendation.objects(pk=found.pk, state="proposed").update_one(
        set__state=state, set__decided_at=utcnow(), set__decided_by=by
    )
    if not moved:
        raise RecommendationError(f"recommendation {recommendation_id} was decided meanwhile")
    found.reload()
    return found
