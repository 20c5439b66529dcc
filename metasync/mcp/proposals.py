"""The only tools that change anything, and what they change is metasync's own list of
proposals: pause or resume an ad or ad set, change an ad set's daily budget. Each stores a
:class:`~metasync.models.Recommendation` in state ``proposed`` with ``source="assistant"`` and
the proposing key, and answers a preview: the values before and after, the guard rails the
write will meet (the daily cap of actions, the largest raise, the quiet hours after anyone's
change), and the optimizer's evidence on the entity, or plainly that there is none.

Nothing here calls Meta. A person approves on the console's recommendations page or with an
API key that has the ``optimize`` scope, and the existing apply path (lease, guards, intent,
read-back, audit, undo) writes to Meta; there is no approve or apply tool, whatever an
assistant is told by the text it reads.

**One proposal per idempotency key.** The stored key is a digest of the tenant and the
caller's ``idempotency_key`` (by default: the proposal's content and the UTC day), so a
repeated call answers the proposal already stored (``created: false``); the same key with a
different proposal is refused, naming the key. A newer proposal of an assistant on the same
entity and action supersedes its open older one, as the optimizer's own do.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from mongoengine.errors import NotUniqueError
from pydantic import Field

from metasync.api.keys import Caller
from metasync.mcp.access import PROPOSING_SCOPES, Access
from metasync.mcp.bounds import decimal_text
from metasync.mcp.reads import KINDS, EntityId, entity_row
from metasync.models import ActionCount, AdAccount, OptimizerSettings, Recommendation, aware
from metasync.models import utcnow as now_utc
from metasync.optimize.guarantee import NO_EVIDENCE, plain_guarantee
from metasync.sync.shapes.mapping import ZERO_DECIMAL_CURRENCIES

__all__ = ["PROPOSING", "propose", "register_proposals"]

# adds a proposal, never deletes or overwrites; the same idempotency key gives the same one
PROPOSING = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
RULE = "assistant"
HOW_TO_APPLY = (
    "stored as a proposal only: nothing was sent to Meta. A person approves it on the "
    "console's recommendations page or with an API key that has the optimize scope "
    "(POST /api/v1/recommendations/{id}/approve, then /apply); this server cannot approve "
    "or apply"
)
IdempotencyKey = Annotated[
    str | None,
    Field(min_length=1, max_length=200, description="repeat it to get the same proposal back"),
]
Reason = Annotated[str, Field(min_length=1, max_length=500, description="why, for the reviewer")]


def _minor_units(currency: str | None) -> int:
    return 1 if (currency or "").upper() in ZERO_DECIMAL_CURRENCIES else 100


def _key(tenant_id: str, idempotency_key: str | None, request: dict[str, Any]) -> str:
    basis = idempotency_key or json.dumps(
        [request, datetime.now(UTC).date().isoformat()], sort_keys=True
    )
    text = json.dumps([tenant_id, RULE, basis], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _guard_rails(rec: Recommendation, entity: Any, currency: str | None) -> dict[str, Any]:
    """What the write will meet when a person applies it, as the mirror stands now."""
    settings = OptimizerSettings.objects(tenant_id=rec.tenant_id).first() or OptimizerSettings()
    today = datetime.now(UTC).date().isoformat()
    count = ActionCount.objects(tenant_id=rec.tenant_id, account_id=rec.account_id, day=today)
    taken = count.first()
    changed = aware(entity.updated_time)
    quiet_until = changed + timedelta(hours=settings.quiet_hours) if changed else None
    rails: dict[str, Any] = {
        "max_actions_per_account_day": settings.max_actions_per_account_day,
        "actions_today": taken.count if taken is not None else 0,
        "quiet_hours": settings.quiet_hours,
        "last_changed_at": changed.isoformat() if changed else None,
        "within_quiet_hours": bool(quiet_until and quiet_until > now_utc()),
        "proposal_max_age_hours": settings.proposal_max_age_hours,
        "optimizer_mode": settings.mode,
    }
    if "daily_budget" in rec.change:
        before = int(rec.evidence["daily_budget"])
        ceiling = int(before * (1 + settings.max_budget_increase))
        units = _minor_units(currency)
        rails["max_budget_increase"] = settings.max_budget_increase
        rails["largest_budget_applied"] = str(Decimal(ceiling) / units)
        rails["raise_capped"] = int(rec.change["daily_budget"]) > ceiling
    return rails


def _evidence(rec: Recommendation) -> list[dict[str, Any]] | str:
    """The optimizer's own open or applied recommendations on the entity, with their evidence;
    or, when it has none, that there is no statistical evidence."""
    found = (
        Recommendation.objects(
            tenant_id=rec.tenant_id,
            entity_id=rec.entity_id,
            source__ne="assistant",
            state__in=["proposed", "approved", "applied"],
        )
        .order_by("-id")
        .limit(5)
    )
    shown = [
        {
            "id": str(r.pk),
            "rule": r.rule,
            "action": r.action,
            "state": r.state,
            "expected": r.expected,
            "evidence": dict(r.evidence or {}),
            "guarantee": plain_guarantee(r),
        }
        for r in found
    ]
    return shown or f"{NO_EVIDENCE}: the optimizer has no recommendation on this entity"


def preview(
    rec: Recommendation, entity: Any, currency: str | None, created: bool
) -> dict[str, Any]:
    units = _minor_units(currency)

    def shown(values: dict[str, Any]) -> dict[str, Any]:
        return {
            k: str(Decimal(int(v)) / units) if k == "daily_budget" else v for k, v in values.items()
        }

    before = {k: rec.evidence.get(k) for k in rec.change}
    return {
        "recommendation_id": str(rec.pk),
        "created": created,
        "state": rec.state,
        "source": rec.source,
        "entity": entity_row(entity, rec.level, currency),
        "action": rec.action,
        "before": shown(before),
        "after": shown(dict(rec.change)),
        "currency": currency,
        "guard_rails": _guard_rails(rec, entity, currency),
        "evidence": _evidence(rec),
        "next": HOW_TO_APPLY.replace("{id}", str(rec.pk)),
    }


def propose(
    who: Caller,
    level: str,
    entity_id: str,
    action: str,
    change: dict[str, Any],
    reason: str,
    idempotency_key: str | None,
) -> dict[str, Any]:
    """Store (or find again) one proposal of ``who``'s tenant and answer its preview."""
    entity = KINDS[level].objects(tenant_id=who.tenant_id, meta_id=entity_id, deleted_at=None)
    found = entity.first()
    if found is None:
        raise ToolError(f"entity_id: no live {level} {entity_id} of this tenant")
    account = AdAccount.objects(tenant_id=who.tenant_id, account_id=found.account_id).first()
    currency = account.currency if account is not None else None
    evidence: dict[str, Any] = {"status": found.status, "proposed_by": who.name}
    if "daily_budget" in change:
        if found.daily_budget is None:
            raise ToolError(
                f"entity_id: ad set {entity_id} has no daily budget of its own "
                "(its campaign's budget is shared)"
            )
        evidence["daily_budget"] = int(
            Decimal(decimal_text(found.daily_budget) or 0) * _minor_units(currency)
        )
        if evidence["daily_budget"] == change["daily_budget"]:
            raise ToolError("daily_budget: that is the budget it has now")
    elif found.status == change["status"]:
        raise ToolError(f"entity_id: {level} {entity_id} is {found.status} already")
    request = {"level": level, "entity_id": entity_id, "action": action, "change": change}
    evidence["request"] = request
    key = _key(who.tenant_id, idempotency_key, request)
    try:
        rec = Recommendation(
            tenant_id=who.tenant_id,
            key=key,
            account_id=found.account_id,
            level=level,
            entity_id=entity_id,
            rule=RULE,
            kind=RULE,
            action=action,
            change=change,
            evidence=evidence,
            expected=f"proposed by an assistant: {reason}",
            source="assistant",
            proposed_by=who.name,
        ).save()
    except NotUniqueError:
        rec = Recommendation.objects.get(tenant_id=who.tenant_id, key=key)
        if dict(rec.evidence or {}).get("request") != request:
            raise ToolError(
                "idempotency_key: already used for a different proposal "
                f"({rec.action} {rec.level} {rec.entity_id}); use a new key"
            ) from None
        return preview(rec, found, currency, created=False)
    Recommendation.objects(
        tenant_id=who.tenant_id,
        entity_id=entity_id,
        rule=RULE,
        action=action,
        state="proposed",
        pk__ne=rec.pk,
    ).update(set__state="superseded", set__superseded_by=str(rec.pk))
    return preview(rec, found, currency, created=True)


def register_proposals(server: MCPServer, access: Access) -> None:
    """Register the proposal tools on ``server``."""

    @server.tool(annotations=PROPOSING)
    def propose_pause(
        ctx: Context,
        level: Literal["ad", "adset"],
        entity_id: EntityId,
        reason: Reason,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Propose pausing an active ad or ad set. Stores a proposal for a person to approve
        (nothing is sent to Meta) and answers its preview: before and after, the guard rails,
        and the optimizer's evidence or that there is none."""
        who = access.caller(ctx, PROPOSING_SCOPES)
        return propose(
            who, level, entity_id, "pause", {"status": "PAUSED"}, reason, idempotency_key
        )

    @server.tool(annotations=PROPOSING)
    def propose_resume(
        ctx: Context,
        level: Literal["ad", "adset"],
        entity_id: EntityId,
        reason: Reason,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Propose resuming a paused ad or ad set. Stores a proposal for a person to approve
        (nothing is sent to Meta) and answers its preview."""
        who = access.caller(ctx, PROPOSING_SCOPES)
        return propose(
            who, level, entity_id, "resume", {"status": "ACTIVE"}, reason, idempotency_key
        )

    @server.tool(annotations=PROPOSING)
    def propose_budget(
        ctx: Context,
        adset_id: EntityId,
        daily_budget: Annotated[
            str, Field(pattern=r"^\d{1,12}(\.\d{1,2})?$", description="major units, e.g. 25.00")
        ],
        reason: Reason,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Propose a new daily budget for an ad set (the account's currency, major units).
        Stores a proposal for a person to approve (nothing is sent to Meta) and answers its
        preview; a raise is capped when applied (guard_rails.largest_budget_applied)."""
        who = access.caller(ctx, PROPOSING_SCOPES)
        found = _adset_currency(who, adset_id)
        try:
            minor = int(Decimal(daily_budget) * _minor_units(found))
        except InvalidOperation:
            raise ToolError("daily_budget: not an amount") from None
        if minor <= 0:
            raise ToolError("daily_budget: must be above zero (propose_pause stops delivery)")
        return propose(
            who,
            "adset",
            adset_id,
            "change_budget",
            {"daily_budget": minor},
            reason,
            idempotency_key,
        )


def _adset_currency(who: Caller, adset_id: str) -> str | None:
    """The currency of the account of the tenant's ad set (None: unknown ad set or account)."""
    found = KINDS["adset"].objects(tenant_id=who.tenant_id, meta_id=adset_id).only("account_id")
    adset = found.first()
    if adset is None:
        raise ToolError(f"adset_id: no live ad set {adset_id} of this tenant")
    account = AdAccount.objects(tenant_id=who.tenant_id, account_id=adset.account_id).first()
    return account.currency if account is not None else None
