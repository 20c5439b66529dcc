"""The read tools over what changed and what is proposed: Meta's activity log of an account,
metasync's own audit of the writes it made, and the recommendations with their evidence and
the guarantee their test gives. Answered from MongoDB, paged like every read tool.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from bson import ObjectId
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mongoengine.queryset.visitor import Q

from metasync.mcp.access import Access
from metasync.mcp.bounds import DEFAULT_ROWS, after, check_days, page
from metasync.mcp.reads import READ_ONLY, AccountId, Cursor, EntityId, Limit
from metasync.models import AdActivity, AuditEntry, Recommendation
from metasync.models.optimizer import SOURCES, STATES
from metasync.optimize.guarantee import plain_guarantee

__all__ = ["recommendation_row", "register_history"]


def recommendation_row(rec: Recommendation) -> dict[str, Any]:
    return {
        "id": str(rec.pk),
        "state": rec.state,
        "source": rec.source,
        "proposed_by": rec.proposed_by,
        "account_id": rec.account_id,
        "level": rec.level,
        "entity_id": rec.entity_id,
        "rule": rec.rule,
        "action": rec.action,
        "change": dict(rec.change or {}),
        "expected": rec.expected,
        "evidence": dict(rec.evidence or {}),
        "guarantee": plain_guarantee(rec),
        "proposed_at": rec.proposed_at.isoformat() if rec.proposed_at else None,
        "decided_by": rec.decided_by,
        "error": rec.error,
    }


def _moment(text: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{name}: not a cursor this server gave") from None


def _activity(doc: AdActivity) -> dict[str, Any]:
    """One entry of Meta's activity log; names and values are Meta's text, as values."""
    return {
        "source": "meta",
        "at": doc.event_time.isoformat(),
        "account_id": doc.account_id,
        "event_type": doc.event_type,
        "translated_event_type": doc.translated_event_type,
        "object_id": doc.object_id,
        "object_type": doc.object_type,
        "object_name": doc.object_name,
        "actor_name": doc.actor_name,
        "application_name": doc.application_name,
        "old_value": doc.old_value,
        "new_value": doc.new_value,
    }


def _audit(doc: AuditEntry) -> dict[str, Any]:
    """One write metasync made to Meta (or intended), with the values before and read back."""
    return {
        "source": "metasync",
        "at": doc.at.isoformat() if doc.at else None,
        "account_id": doc.account_id,
        "recommendation_id": doc.recommendation_id,
        "action": doc.action,
        "state": doc.state,
        "level": doc.level,
        "object_id": doc.entity_id,
        "field": doc.field,
        "old_value": doc.old_value,
        "new_value": doc.new_value,
        "read_back": doc.read_back,
        "by": doc.by,
    }


def register_history(server: MCPServer, access: Access) -> None:
    """Register the change history and recommendation tools on ``server``."""

    @server.tool(annotations=READ_ONLY)
    def change_history(
        ctx: Context,
        source: Literal["meta", "metasync"],
        since: date,
        until: date,
        account_id: AccountId | None = None,
        object_id: EntityId | None = None,
        limit: Limit = DEFAULT_ROWS,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """What changed from since to until (UTC days, inclusive), newest first. source=meta:
        Meta's activity log (who changed what, in Ads Manager or any app); source=metasync:
        the writes metasync made to Meta for approved recommendations (value before, value
        written, value read back)."""
        who = access.caller(ctx)
        check_days(since, until)
        start = datetime.combine(since, time(), UTC)
        end = datetime.combine(until + timedelta(days=1), time(), UTC)
        model, at, ident, row = (
            (AdActivity, "event_time", "meta_id", _activity)
            if source == "meta"
            else (AuditEntry, "at", "id", _audit)
        )
        filters: dict[str, Any] = {
            "tenant_id": who.tenant_id,
            f"{at}__gte": start,
            f"{at}__lt": end,
        }
        if account_id is not None:
            filters["account_id"] = account_id
        if object_id is not None:
            filters["object_id" if source == "meta" else "entity_id"] = object_id
        query = model.objects(**filters)
        last = after(cursor, 2)
        if last:
            moment = _moment(last[0], "cursor")
            tie: Any = (
                ObjectId(last[1]) if ident == "id" and ObjectId.is_valid(last[1]) else last[1]
            )
            query = query.filter(
                Q(**{f"{at}__lt": moment}) | Q(**{at: moment, f"{ident}__gt": tie})
            )
        found = list(query.order_by(f"-{at}", ident).limit(limit + 1))
        return page(
            found,
            limit,
            row,
            lambda d: [getattr(d, at).isoformat(), str(getattr(d, ident))],
        )

    @server.tool(annotations=READ_ONLY)
    def recommendations(
        ctx: Context,
        state: Literal[STATES] | None = None,  # type: ignore[valid-type]
        source: Literal[SOURCES] | None = None,  # type: ignore[valid-type]
        account_id: AccountId | None = None,
        limit: Limit = DEFAULT_ROWS,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Recommendations, newest first: what each would change, its evidence (the rows and
        the statistic with its bound), and the guarantee its test gives (an assistant's
        proposal says plainly that it has no statistical evidence). Approving and applying
        are for a person (the console, or an API key with the optimize scope)."""
        who = access.caller(ctx)
        filters: dict[str, Any] = {"tenant_id": who.tenant_id}
        given = {"state": state, "account_id": account_id}
        filters.update({k: v for k, v in given.items() if v is not None})
        if source is not None:  # stored before sources existed: the optimizer's
            filters["source" if source == "assistant" else "source__ne"] = "assistant"
        query = Recommendation.objects(**filters)
        last = after(cursor, 1)
        if last:
            if not ObjectId.is_valid(last[0]):
                raise ToolError("cursor: not a cursor this server gave")
            query = query.filter(pk__lt=ObjectId(last[0]))
        found = list(query.order_by("-id").limit(limit + 1))
        return page(found, limit, recommendation_row, lambda r: [str(r.pk)])
