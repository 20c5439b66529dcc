"""The optimizer's documents: a tenant's rules and mode, and the recommendations they made.

A recommendation is a decision and its evidence in one record (the rows and figures, the
statistic with its bound), with a state an operator moves: ``proposed`` -> ``approved`` or
``rejected``; later ``applied``, ``expired`` or ``undone``; ``superseded`` when a later
evaluation decided the same action on the same entity (one open proposal each); ``compensated``
when a two-write action could not complete and its first write was taken back; ``failed`` when
Meta refused the write (nothing of it stays written; ``apply`` may be called again once the cause
is fixed, without a new evaluation); ``restore_refused`` when Meta refused for good to take a
write back (``restore`` says, per entity, what was and was not restored; ``undo`` tries again).
``key``
identifies the decision (rule, entity, action, change and the last day of its evidence), so
evaluating the same rows twice proposes nothing new.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    FloatField,
    IntField,
    ListField,
    StringField,
)

from metasync.models.base import BASE_META, utcnow

__all__ = [
    "MODES",
    "SOURCES",
    "STATES",
    "ActionCount",
    "AuditEntry",
    "OptimizerSettings",
    "OptimizerStream",
    "Recommendation",
]

MODES = ("off", "recommend", "apply")
SOURCES = ("optimizer", "assistant")
STATES = (
    *("proposed", "approved", "applied"),  # the way to Meta
    *("rejected", "expired", "undone", "superseded", "compensated"),  # ended otherwise
    *("failed", "restore_refused"),  # stopped short: an operator decides
)


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
    # a proposal older than this can no longer be approved: the evidence is re-decided instead
    proposal_max_age_hours = IntField(default=72, min_value=1)
    updated_at = DateTimeField(default=utcnow)
    updated_by = StringField()
    evaluated_at = DateTimeField()  # the last evaluation of the rules
    # the last evaluation that failed (None: the last one ran), shown by the CLI, the console
    # and /metrics; other tenants' evaluations are not stopped by it
    evaluation_error = StringField()
    evaluation_failed_at = DateTimeField()

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
    # who proposed it: the optimizer's rules, or an assistant through the MCP server
    # (metasync.mcp), which only proposes: a person approves it like any other
    source = StringField(choices=SOURCES, default="optimizer")
    proposed_by = StringField()  # the API key of an assistant's proposal ("api-key:<key id>")
    state = StringField(choices=STATES, default="proposed")
    proposed_at = DateTimeField(default=utcnow)
    decided_at = DateTimeField()
    decided_by = StringField()
    # a worker's lease on writing it to Meta: another may take it over after LEASE_SECONDS
    # (metasync.optimize.apply), so a killed worker never leaves it claimed for good
    claimed_at = DateTimeField()
    claim = StringField()  # which attempt holds the lease
    # the intent, stored before the first POST: [{level, entity_id, before: {field: value},
    # after: {field: value}}] in the order written; undo's own, likewise
    plan = ListField(DictField())
    planned_at = DateTimeField()
    undo_plan = ListField(DictField())
    gave_up = StringField()  # the plan cannot complete: what it wrote is being taken back
    applied_at = DateTimeField()
    waiting_until = DateTimeField()  # held by the daily cap: the recovery sends it again then
    superseded_by = StringField()
    error = StringField()  # why the last attempt to apply did not, in plain words
    failure = DictField()  # Meta's refusal of a failed write (MetaAPIError.as_record())
    # a take-back Meta refused for good, per entity of the plan: {level, entity_id, before,
    # applied, meta (what Meta holds now, None when unreadable), not_restored, error}
    restore = ListField(DictField())

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "recommendations",
        "indexes": [
            {"fields": ["tenant_id", "key"], "unique": True},
            {"fields": ["tenant_id", "state", "proposed_at"]},
            {"fields": ["tenant_id", "entity_id", "action", "state"]},
            {"fields": ["state", "claimed_at"]},  # leases to take over (recovery)
            {"fields": ["tenant_id", "account_id", "-proposed_at"]},  # an account's page
            {"fields": ["proposed_at"]},  # retention
        ],
    }


class AuditEntry(Document):  # type: ignore[misc]
    """One write the optimizer made to Meta: the field's value before, the value written, and
    the value Meta gave back when read afterwards. ``state``: ``intended`` (recorded before
    the POST), ``written`` (read back from Meta), ``abandoned`` (never written) or ``refused``
    (Meta refused it for good: ``error`` holds Meta's answer; never written)."""

    tenant_id = StringField(required=True)
    recommendation_id = StringField(required=True)
    account_id = StringField(required=True)
    level = StringField(required=True)
    entity_id = StringField(required=True)
    action = StringField(required=True, choices=("apply", "undo", "compensate"))
    step = IntField(default=0)  # the plan's step (a reallocation: 0 the giver, 1 the receiver)
    state = StringField(choices=("intended", "written", "abandoned", "refused"), default="written")
    error = StringField()  # Meta's refusal of a ``refused`` write
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
            {"fields": ["at"]},  # retention
            # one entry per step's field; entity_id in the key keeps the index valid over
            # entries written before steps existed (a reallocation's two budgets)
            {
                "fields": ["recommendation_id", "action", "step", "entity_id", "field"],
                "unique": True,
            },
        ],
    }


class OptimizerStream(Document):  # type: ignore[misc]
    """An entity's matured days since a fixed start, as the sequential tests read them
    (:class:`metasync.optimize.stream.Stream`): kept so each evaluation adds only the days that
    matured since the last one. Money in the account's currency, major units."""

    tenant_id = StringField(required=True)
    level = StringField(required=True)  # ad | adset
    entity_id = StringField(required=True)
    start = StringField(required=True)
    through = StringField()
    spend = FloatField(default=0.0)
    conversions = IntField(default=0)
    revenue = FloatField(default=0.0)
    days = IntField(default=0)
    # sum of phi x spend**2 over its days; None on a stream stored before day-to-day
    # variation was recorded (it restarts from its next day)
    spread = FloatField()
    recent = ListField()  # its newest days: [date, spend, conversions, revenue, phi]
    updated_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "optimizer_streams",
        "indexes": [{"fields": ["tenant_id", "level", "entity_id"], "unique": True}],
    }


class ActionCount(Document):  # type: ignore[misc]
    """Writes the optimizer started on one ad account on one UTC day: taken atomically
    (``count < cap``), so concurrent applies never pass the daily cap together."""

    tenant_id = StringField(required=True)
    account_id = StringField(required=True)
    day = StringField(required=True)  # UTC, ISO
    count = IntField(default=0)
    recommendations = ListField(StringField())  # each counted once, however often retried

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "optimizer_action_counts",
        "indexes": [{"fields": ["tenant_id", "account_id", "day"], "unique": True}],
    }
