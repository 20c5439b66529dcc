"""Carry out a write's plan against Meta from wherever Meta's values say it stands.

A plan is a list of steps ``{level, entity_id, before: {field: value}, after: {field: value}}``
stored on the recommendation before its first POST (the intent). :func:`run_plan` reads every
entity, then step by step: Meta holds the ``after`` values (an earlier attempt's POST landed,
only its answer was lost): confirm without writing; Meta holds the ``before`` values: record the
step's audit entries ``intended``, POST, read back, confirm them ``written``; anything else (a
person changed it meanwhile): give up. A POST that fails on the last attempt is read back
first: Meta holding the intended values means only its answer was lost, and it is confirmed.
Giving up abandons the steps not written and writes the written ones back, newest first
(``compensate`` in the audit log), so a two-step write ends whole or not at all. Writes set
absolute values, so a POST repeated after a lost answer changes nothing more.
"""

from __future__ import annotations

from typing import Any, NoReturn

from metasync.graph import GraphClient, MetaAPIError
from metasync.models import AuditEntry, Recommendation, utcnow

__all__ = ["READ_FIELDS", "GaveUp", "compensate", "read_entity", "run_plan"]

READ_FIELDS = {  # what the guards read fresh from Meta (an ad has no budget of its own)
    "ad": "status,effective_status,updated_time",
    "adset": "status,effective_status,daily_budget,updated_time",
    "campaign": "status,effective_status,daily_budget,updated_time",
}


def read_entity(
    client: GraphClient, rec: Recommendation, level: str, entity_id: str
) -> dict[str, Any]:
    return dict(
        client.get(entity_id, {"fields": READ_FIELDS[level]}, account_id=rec.account_id).body or {}
    )


def _values(fresh: dict[str, Any], names: dict[str, Any]) -> dict[str, str]:
    return {name: str(fresh.get(name)) for name in names}


def _audit(
    rec: Recommendation, action: str, step: int, item: dict[str, Any], by: str, **fields: Any
) -> None:
    """Upsert the audit entries of one step (one per field) with ``fields``."""
    for name, value in item["after"].items():
        AuditEntry.objects(
            recommendation_id=str(rec.pk),
            action=action,
            step=step,
            entity_id=item["entity_id"],
            field=name,
        ).update_one(
            upsert=True,
            set_on_insert__tenant_id=rec.tenant_id,
            set_on_insert__account_id=rec.account_id,
            set_on_insert__level=item["level"],
            set_on_insert__old_value=item["before"].get(name),
            set_on_insert__new_value=value,
            set_on_insert__by=by,
            set_on_insert__at=utcnow(),
            **{f"set__{k}": v for k, v in fields.items()},
        )


def _confirm(
    rec: Recommendation, action: str, step: int, item: dict[str, Any], after: dict[str, Any],
    by: str,
) -> None:  # fmt: skip
    """The step's entries ``written``, with what Meta gave back."""
    for name in item["after"]:
        read_back = None if after.get(name) is None else str(after[name])
        _audit(rec, action, step, {**item, "after": {name: item["after"][name]}}, by,
               state="written", read_back=read_back)  # fmt: skip


def _post(client: GraphClient, rec: Recommendation, item: dict[str, Any], values: str) -> None:
    client.post(item["entity_id"], dict(item[values]), account_id=rec.account_id)


class GaveUp(Exception):
    """A plan that cannot complete; its written steps were compensated."""

    def __init__(self, reason: str, compensated: bool) -> None:
        super().__init__(reason)
        self.compensated = compensated


def run_plan(
    client: GraphClient,
    rec: Recommendation,
    plan: list[dict[str, Any]],
    action: str,
    by: str,
    final_attempt: bool,
) -> None:
    """Carry out ``plan`` from where Meta's values say it stands (see the module)."""
    fresh = [read_entity(client, rec, item["level"], item["entity_id"]) for item in plan]
    for step, item in enumerate(plan):
        now = _values(fresh[step], item["after"])
        if now == item["after"]:
            _confirm(rec, action, step, item, fresh[step], by)  # an earlier attempt wrote it
            continue
        if now != item["before"]:
            give_up(
                client, rec, plan, step, action, by,
                f"{item['level']} {item['entity_id']} holds {now}, neither the {item['before']} "
                f"before nor the {item['after']} intended: someone else changed it meanwhile",
            )  # fmt: skip
        _audit(rec, action, step, item, by, state="intended")
        try:
            _post(client, rec, item, "after")
        except MetaAPIError as exc:
            if exc.retryable and not final_attempt:
                raise  # the task retries; the next attempt resumes from here
            landed = read_entity(client, rec, item["level"], item["entity_id"])
            if _values(landed, item["after"]) != item["after"]:  # not a lost answer
                give_up(client, rec, plan, step, action, by, client.redact(str(exc)))
        _confirm(
            rec, action, step, item, read_entity(client, rec, item["level"], item["entity_id"]), by
        )


def give_up(
    client: GraphClient,
    rec: Recommendation,
    plan: list[dict[str, Any]],
    step: int,
    action: str,
    by: str,
    reason: str,
) -> NoReturn:
    """Abandon steps ``step`` on and take back the ones before it. The decision is stored on
    the recommendation first (``gave_up``), so an attempt that dies while taking back is
    followed by one that finishes taking back (:func:`compensate`) instead of going forward."""
    AuditEntry.objects(
        recommendation_id=str(rec.pk), action=action, step__gte=step, state="intended"
    ).update(set__state="abandoned")
    if step == 0:
        raise GaveUp(reason, compensated=False)
    told = f"{reason}; the earlier writes were taken back"
    Recommendation.objects(pk=rec.pk).update_one(set__gave_up=told)
    compensate(client, rec, plan[:step], by)
    raise GaveUp(told, compensated=True)


def compensate(
    client: GraphClient, rec: Recommendation, plan: list[dict[str, Any]], by: str
) -> None:
    """Write the values before back, newest step first, where Meta still holds what the plan
    wrote; a step already taken back is confirmed, one never written is left alone, and one a
    person changed since is not overwritten (its intent is abandoned)."""
    for step in reversed(range(len(plan))):
        item = plan[step]
        back = {"level": item["level"], "entity_id": item["entity_id"],
                "before": item["after"], "after": item["before"]}  # fmt: skip
        fresh = read_entity(client, rec, item["level"], item["entity_id"])
        now = _values(fresh, item["after"])
        pending = AuditEntry.objects(
            recommendation_id=str(rec.pk), action="compensate", step=step, state="intended"
        )
        if now == item["after"]:
            _audit(rec, "compensate", step, back, by, state="intended")
            _post(client, rec, back, "after")
            _confirm(rec, "compensate", step, back, read_entity(client, rec, item["level"],
                     item["entity_id"]), by)  # fmt: skip
        elif now == item["before"] and pending.count():
            _confirm(rec, "compensate", step, back, fresh, by)  # the POST landed, its answer not
        else:
            pending.update(set__state="abandoned")
