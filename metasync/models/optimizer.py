"""The optimizer's documents: a tenant's rules and mode, and the recommendations they made.

A recommendation is a decision and its evidence in one record (the rows and figures, the
statistic with its bound), with a state an operator moves: ``proposed`` -> ``approved`` or
``rejected``; later ``applied``, ``expired`` or ``undone``. ``key`` identifies the decision (rule,
entity, action, change and the last day of its evidence), so evaluating the same rows twice
proposes nothing new.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, Document, FloatField, IntField, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["MODES", "STATES", "AuditEntry", "OptimizerSettings", "Recommendation"]

MODES = ("off", "recommend", "apply")
STATES = ("proposed", "approved", "applied", "rejected", "expired", "undone")


class OptimizerSettings(Document):  # type: ignore[misc]
    """A tenant's optimizer: ``mode`` (``recommend`` by default: propose, never write) and its
    rules as the YAML text they were given in (validated by
    :func:`metasync.optimize.rules.parse_rules` before they are stored)."""

    tenant_id = StringField(required=True)
    mode = StringField(choices=MODES, default="recommend")
    rules_yaml = StringField(default="")
    # guards of the write-back: actions per ad account per day (UTC), the largest budget raise
    # of one action (a fraction), and how long after anyone's change an entity is left alone
    max_actions_per_account_day = IntField(default=10, min_value=0)
    max_budget_increase = FloatField(default=0.2, min_value=0)
    quiet_hours = IntField(default=72, min_value=0)
    updated_at = DateTimeField(default=utcnow)
    updated_by = StringField()
    evaluated_at = DateTimeField()  # the last evaluation of the rules

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "optimizer_settings",
        "indexes": [{"fields": ["tenant_id"], "unique": True}],
    }


class Recommendation(Document):  # type: ignore[misc]
    """One proposed action on one ad or ad set, with why."""

    tenant_id = StringField(required=True)
    key = StringField(required=True)
    account_id = StringField(required=True)
    level = StringField(required=True)  # ad | adset
    entity_id = StringField(required=True)
    rule = StringField(required=True)
    kind = StringField(required=True)
    action = StringField(required=True)  # pause | raise_budget | flag
    change = DictField()  # the write it proposes: {"status": "PAUSED"}, {"daily_budget": 1200}
    evidence = DictField()
    expected = StringField()
    state = StringField(choices=STATES, default="proposed")
    proposed_at = DateTimeField(default=utcnow)
    decided_at = DateTimeField()
    decided_by = StringField()
    claimed_at = DateTimeField()  # a worker is writing it to Meta (cleared when it fails)
    applied_at = DateTimeField()
    error = StringField()  # why the last attempt to apply did not, in plain words

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "recommendations",
        "indexes": [
            {"fields": ["tenant_id", "key"], "unique": True},
            {"fields": ["tenant_id", "state", "proposed_at"]},
        ],
    }


class AuditEntry(Document):  # type: ignore[misc]
    """One write the optimizer made to Meta: the field's value before, the value written, and
    the value Meta gave back when read afterwards."""

    tenant_id = StringField(required=True)
    recommendation_id = StringField(required=True)
    account_id = StringField(required=True)
    level = StringField(required=True)
    entity_id = StringField(required=True)
    action = StringField(required=True, choices=("apply", "undo"))
    field = StringField(required=True)
    old_value = StringField()
    new_value = StringField()
    read_back = StringField()
    by = StringField()
    at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "optimizer_audit",
        "indexes": [
            {"fields": ["tenant_id", "recommendation_id"]},
            {"fields": ["tenant_id", "account_id", "action", "at"]},
        ],
    }
