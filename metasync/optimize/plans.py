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

**Refused for good.** Meta refuses some writes until someone acts (:data:`REFUSED_FOR_GOOD`: a
permission, a token, a parameter or an object it will not take); repeating the POST only repeats
the refusal. Such a write's intent is closed ``refused`` with Meta's answer, never left
``intended`` for a retry to find: a refused step gives up (:class:`GaveUp` carries the refusal),
and a refused take-back stops (:class:`TakeBackRefused`), the other steps still taken back;
:func:`restore_report` then says per entity what was and was not restored. The recovery never
POSTs either again, even after a crash between closing the intent and moving the
recommendation's state (the refused intent is found and the refusal repeated without a POST);
an operator does, once the cause is fixed (``again``). This assumes Meta's error codes
mean what its documentation says: a refusal Meta would lift by itself is retried by no one.
"""

from __future__ import annotations

from typing import Any, NoReturn

from metasync.graph import (
    GraphClient,
    InvalidRequestError,
    MetaAPIError,
    PermissionDeniedError,
    TokenError,
)
from metasync.models import AuditEntry, Recommendation, aware, utcnow

__all__ = [
    "READ_FIELDS",
    "REFUSED_FOR_GOOD",
    "GaveUp",
    "TakeBackRefused",
    "compensate",
    "read_entity",
    "restore_report",
    "run_plan",
]

# Meta refuses these until someone acts (grants a permission, re-authorizes the token, fixes the
# object or the value): a repeated POST is refused again
REFUSED_FOR_GOOD = (PermissionDeniedError, TokenError, InvalidRequestError)

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
    """Upsert the audit entries of one step (one per field) with ``fields``. A new intent
    (``state="intended"``) also records what it is about, by whom and when, so an intent formed
    again after a refusal (the cause fixed) says what the new attempt writes."""
    fresh = fields.get("state") == "intended"
    for name, value in item["after"].items():
        about = {
            "old_value": item["before"].get(name),
            "new_value": value,
            "by": by,
            "at": utcnow(),
        }
        kept = {f"set__{k}" if fresh else f"set_on_insert__{k}": v for k, v in about.items()}
        if fresh:
            kept["set__error"] = None
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
            **kept,
            **{f"set__{k}": v for k, v in fields.items()},
        )


def _confirm(
    rec: Recommendation,
    action: str,
    step: int,
    item: dict[str, Any],
    after: dict[str, Any],
    by: str,
) -> None:
    """The step's entries ``written``, with what Meta gave back (``after``)."""
    for name, value in item["after"].items():
        read_back = None if after.get(name) is None else str(after[name])
        one_field = {**item, "after": {name: value}}
        _audit(rec, action, step, one_field, by, state="written", read_back=read_back)


def _taking_back(item: dict[str, Any]) -> dict[str, Any]:
    """The step that writes ``item``'s values before back (its ``before`` and ``after``
    swapped)."""
    return {
        "level": item["level"],
        "entity_id": item["entity_id"],
        "before": item["after"],
        "after": item["before"],
    }


def _post(client: GraphClient, rec: Recommendation, item: dict[str, Any], values: str) -> None:
    client.post(item["entity_id"], dict(item[values]), account_id=rec.account_id)


def _refuse(rec: Recommendation, action: str, step: int, said: str) -> None:
    """Close the step's open intents ``refused``, with Meta's answer: never written, and not
    to be written again by a retry."""
    AuditEntry.objects(
        recommendation_id=str(rec.pk), action=action, step=step, state="intended"
    ).update(set__state="refused", set__error=said)


def _refused_before(rec: Recommendation, action: str, step: int) -> str | None:
    """Meta's answer when this plan's step was already refused for good (its intent closed
    ``refused`` since the plan was made): an attempt that died after the refusal, before its
    recommendation's state moved, is resumed to the same end without POSTing again. One query
    per step about to be written; a second only when a refusal is found."""
    refused = AuditEntry.objects(
        recommendation_id=str(rec.pk), action=action, step=step, state="refused"
    ).only("at", "error")
    found = list(refused)
    if not found:
        return None
    stored = Recommendation.objects(pk=rec.pk).only("planned_at").first()
    since = aware(stored.planned_at) if stored is not None else None
    for entry in found:
        if since is None or (aware(entry.at) or since) >= since:
            return entry.error or "refused by Meta"
    return None


class GaveUp(Exception):
    """A plan that cannot complete; its written steps were compensated. ``failure``: Meta's
    error when a POST failed (:meth:`MetaAPIError.as_record`, redacted), None when someone
    else's change stopped it; ``refused``: entity id -> Meta's answer when Meta refused for
    good (empty otherwise)."""

    def __init__(
        self,
        reason: str,
        compensated: bool,
        failure: dict[str, Any] | None = None,
        refused: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.compensated = compensated
        self.failure = failure
        self.refused = refused or {}


class TakeBackRefused(Exception):
    """Meta refused for good to write back what a plan wrote; ``refused``: entity id -> Meta's
    answer. Its intents are closed ``refused``; the other steps were taken back."""

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = refused
        super().__init__("; ".join(f"{entity}: {why}" for entity, why in refused.items()))


def run_plan(
    client: GraphClient,
    rec: Recommendation,
    plan: list[dict[str, Any]],
    action: str,
    by: str,
    final_attempt: bool,
    again: bool = False,
) -> None:
    """Carry out ``plan`` from where Meta's values say it stands (see the module). A step this
    plan's earlier attempt saw refused for good is refused again without a POST, unless
    ``again`` (an operator sends a refused write again, its cause fixed)."""
    fresh = [read_entity(client, rec, item["level"], item["entity_id"]) for item in plan]
    for step, item in enumerate(plan):
        now = _values(fresh[step], item["after"])
        if now == item["after"]:
            _confirm(rec, action, step, item, fresh[step], by)  # an earlier attempt wrote it
            continue
        if now != item["before"]:
            changed = (
                f"{item['level']} {item['entity_id']} holds {now}, neither the {item['before']} "
                f"before nor the {item['after']} intended: someone else changed it meanwhile"
            )
            give_up(client, rec, plan, step, action, by, changed)
        said = None if again else _refused_before(rec, action, step)
        if said is not None:
            stored = Recommendation.objects(pk=rec.pk).only("failure").first()
            record = dict(stored.failure or {}) if stored is not None else {}
            record = record or {"message": said, "refused_for_good": True}
            give_up(client, rec, plan, step, action, by, said, record, {item["entity_id"]: said})
        _audit(rec, action, step, item, by, state="intended")
        try:
            _post(client, rec, item, "after")
        except MetaAPIError as exc:
            if exc.retryable and not final_attempt:
                raise  # the task retries; the next attempt resumes from here
            landed = read_entity(client, rec, item["level"], item["entity_id"])
            if _values(landed, item["after"]) != item["after"]:  # not a lost answer
                said = client.redact(str(exc))
                record = {
                    k: client.redact(v) if isinstance(v, str) else v
                    for k, v in exc.as_record().items()
                }
                record["refused_for_good"] = isinstance(exc, REFUSED_FOR_GOOD)
                record["permission"] = isinstance(exc, PermissionDeniedError | TokenError)
                refused = {}
                if isinstance(exc, REFUSED_FOR_GOOD):
                    if action == "apply":  # kept for an attempt that resumes after a crash
                        Recommendation.objects(pk=rec.pk).update_one(set__failure=record)
                    _refuse(rec, action, step, said)
                    refused = {item["entity_id"]: said}
                give_up(client, rec, plan, step, action, by, said, record, refused)
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
    failure: dict[str, Any] | None = None,
    refused: dict[str, str] | None = None,
) -> NoReturn:
    """Abandon steps ``step`` on and take back the ones before it. The decision is stored on
    the recommendation first (``gave_up``), so an attempt that dies while taking back is
    followed by one that finishes taking back (:func:`compensate`) instead of going forward.
    ``failure`` and ``refused`` (Meta's error, see :class:`GaveUp`) go with the exception."""
    AuditEntry.objects(
        recommendation_id=str(rec.pk), action=action, step__gte=step, state="intended"
    ).update(set__state="abandoned")
    if step == 0:
        raise GaveUp(reason, compensated=False, failure=failure, refused=refused)
    told = f"{reason}; the earlier writes were taken back"
    Recommendation.objects(pk=rec.pk).update_one(set__gave_up=told)
    compensate(client, rec, plan[:step], by)
    raise GaveUp(told, compensated=True, failure=failure, refused=refused)


def compensate(
    client: GraphClient,
    rec: Recommendation,
    plan: list[dict[str, Any]],
    by: str,
    again: bool = False,
) -> None:
    """Write the values before back, newest step first, where Meta still holds what the plan
    wrote; a step already taken back is confirmed, one never written is left alone, and one a
    person changed since is not overwritten (its intent is abandoned). A take-back Meta refuses
    for good is closed ``refused`` and the others still go; then :class:`TakeBackRefused`; one
    this plan's earlier attempt saw refused is refused again without a POST, unless ``again``
    (an operator sends it again, the cause fixed). A transient failure is raised as it is: the
    next attempt (or the recovery) finishes."""
    refused: dict[str, str] = {}
    for step in reversed(range(len(plan))):
        item = plan[step]
        back = _taking_back(item)
        fresh = read_entity(client, rec, item["level"], item["entity_id"])
        now = _values(fresh, item["after"])
        pending = AuditEntry.objects(
            recommendation_id=str(rec.pk), action="compensate", step=step, state="intended"
        )
        said = None if again or now != item["after"] else _refused_before(rec, "compensate", step)
        if said is not None:
            refused[item["entity_id"]] = said
        elif now == item["after"]:
            _audit(rec, "compensate", step, back, by, state="intended")
            try:
                _post(client, rec, back, "after")
            except REFUSED_FOR_GOOD as exc:
                refused[item["entity_id"]] = client.redact(str(exc))
                _refuse(rec, "compensate", step, refused[item["entity_id"]])
                continue
            written = read_entity(client, rec, item["level"], item["entity_id"])
            _confirm(rec, "compensate", step, back, written, by)
        elif now == item["before"] and pending.count():
            _confirm(rec, "compensate", step, back, fresh, by)  # the POST landed, its answer not
        else:
            pending.update(set__state="abandoned")
    if refused:
        raise TakeBackRefused(refused)


def restore_report(
    client: GraphClient, rec: Recommendation, plan: list[dict[str, Any]], refused: dict[str, str]
) -> list[dict[str, Any]]:
    """What a refused take-back left, per entity of the recommendation's ``plan`` (its own
    write, oldest step first): the values ``before`` it, the values it wrote (``applied``), what
    Meta holds now (``meta``; None when Meta cannot be read, with why in ``error``), the values
    not restored (``not_restored``: the before values Meta does not hold) and Meta's refusal
    (``error``). Read from Meta now, so it says what is, whichever way it came to be."""
    report = []
    for item in plan:
        error = refused.get(item["entity_id"])
        meta: dict[str, str] | None
        try:
            meta = _values(
                read_entity(client, rec, item["level"], item["entity_id"]), item["before"]
            )
        except MetaAPIError as exc:
            meta, error = None, error or f"cannot be read: {client.redact(str(exc))}"
        report.append(
            {
                "level": item["level"],
                "entity_id": item["entity_id"],
                "before": dict(item["before"]),
                "applied": dict(item["after"]),
                "meta": meta,
                "not_restored": {
                    k: v for k, v in item["before"].items() if meta is None or meta.get(k) != v
                },
                "error": error,
            }
        )
    return report
