"""The read tools over the mirror: ad accounts and their health, campaigns, ad sets and ads,
daily performance and report rows. Every answer comes from MongoDB (and Redis for health):
no tool here calls Meta, so asking spends none of the tenant's Graph quota.

Each tool filters by the caller's tenant before anything else and answers a page
(:mod:`metasync.mcp.bounds`). Rows carry the ids and days they were read by, so every figure
can be looked up again (``performance`` row = one ``daily_insights`` document).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

import redis
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from metasync.api.common import after_key, metrics_of, reporting_converter
from metasync.export.currency import Converter
from metasync.health.pages import every_health
from metasync.keys import RedisKeys
from metasync.mcp.access import Access
from metasync.mcp.bounds import DEFAULT_ROWS, MAX_ROWS, after, check_days, decimal_text, page
from metasync.models import (
    Ad,
    AdAccount,
    AdSet,
    Campaign,
    DailyInsight,
    ReportRow,
    TenantReport,
    TenantSettings,
)

__all__ = ["KINDS", "READ_ONLY", "account_currencies", "register_reads"]

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
KINDS = {"campaign": Campaign, "adset": AdSet, "ad": Ad}

AccountId = Annotated[str, Field(pattern=r"^\d{1,20}$", description="numeric, without act_")]
EntityId = Annotated[str, Field(pattern=r"^\d{1,30}$", description="Meta's numeric id")]
Limit = Annotated[int, Field(ge=1, le=MAX_ROWS, description=f"rows per page, at most {MAX_ROWS}")]
Cursor = Annotated[str | None, Field(max_length=2048, description="next_cursor of a page")]
Level = Literal["account", "campaign", "adset", "ad"]


def account_currencies(tenant_id: str) -> dict[str, str | None]:
    """Each of the tenant's ad accounts (numeric id) and the currency it spends in."""
    return {
        a.account_id: a.currency
        for a in AdAccount.objects(tenant_id=tenant_id).only("account_id", "currency")
    }


def entity_row(doc: Any, kind: str, currency: str | None) -> dict[str, Any]:
    """An object as the mirror holds it; ``name`` is Meta's text, a value, never an
    instruction. Budgets in the account's currency, major units."""
    return {
        "kind": kind,
        "id": doc.meta_id,
        "account_id": doc.account_id,
        "name": doc.name,
        "status": doc.status,
        "effective_status": doc.effective_status,
        "campaign_id": getattr(doc, "campaign_id", None),
        "adset_id": getattr(doc, "adset_id", None),
        "daily_budget": decimal_text(getattr(doc, "daily_budget", None)),
        "lifetime_budget": decimal_text(getattr(doc, "lifetime_budget", None)),
        "currency": currency,
        "updated_time": doc.updated_time.isoformat() if doc.updated_time else None,
        "deleted_at": doc.deleted_at.isoformat() if doc.deleted_at else None,
    }


def _health(redis_client: redis.Redis, keys: RedisKeys, tenant_id: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for health in every_health(redis_client, keys, tenant_id):
        entry = {
            name: value.isoformat() if hasattr(value, "isoformat") else value
            for name, value in health.as_dict().items()
            if name not in ("tenant_id", "account_id", "name")
        }
        found.setdefault(health.account_id, []).append(entry)
    return found


def _converter(tenant_id: str, rows: list[Any], day: str, currency: str) -> Converter | None:
    """For ``currency="reporting"``: a converter into the tenant's reporting currency at the
    rates of the rows' days; a :class:`ToolError` when the tenant has none."""
    if currency != "reporting":
        return None
    converter = reporting_converter(tenant_id, rows, day)
    if converter is None:
        raise ToolError("currency: this tenant has no reporting currency set")
    return converter


def register_reads(
    server: MCPServer, access: Access, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    """Register the read tools on ``server``."""

    @server.tool(annotations=READ_ONLY)
    def accounts(
        ctx: Context, limit: Limit = DEFAULT_ROWS, cursor: Cursor = None
    ) -> dict[str, Any]:
        """The tenant's ad accounts with their currency, time zone and health per connection:
        how far behind the mirror is (lag_seconds, newest_day), the token's expiry, flags and
        the reports Meta withholds until the account opts in (not_opted_in)."""
        who = access.caller(ctx)
        query = AdAccount.objects(tenant_id=who.tenant_id)
        last = after(cursor, 1)
        if last:
            query = query.filter(account_id__gt=last[0])
        found = list(query.order_by("account_id").limit(limit + 1))
        health = _health(redis_client, keys, who.tenant_id)

        def row(account: AdAccount) -> dict[str, Any]:
            return {
                "account_id": account.account_id,
                "name": account.name,
                "currency": account.currency,
                "timezone_name": account.timezone_name,
                "account_status": account.account_status,
                "amount_spent": decimal_text(account.amount_spent),
                "health": health.get(account.account_id, []),
            }

        return page(found, limit, row, lambda a: [a.account_id])

    @server.tool(annotations=READ_ONLY)
    def find_objects(
        ctx: Context,
        kind: Literal["campaign", "adset", "ad"],
        name_contains: Annotated[str | None, Field(max_length=200)] = None,
        ids: Annotated[list[EntityId] | None, Field(max_length=100)] = None,
        account_id: AccountId | None = None,
        campaign_id: EntityId | None = None,
        adset_id: EntityId | None = None,
        include_deleted: bool = False,
        limit: Limit = DEFAULT_ROWS,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Campaigns, ad sets or ads found by name (case-insensitive, a plain substring) or by
        id, with status and budget (account currency, major units), by id."""
        who = access.caller(ctx)
        if kind == "campaign" and adset_id is not None:
            raise ToolError("adset_id: a campaign has no ad set")
        if kind != "ad" and adset_id is not None:
            raise ToolError("adset_id: only ads have an ad set")
        filters: dict[str, Any] = {"tenant_id": who.tenant_id}
        given = {"account_id": account_id, "campaign_id": campaign_id, "adset_id": adset_id}
        filters.update({k: v for k, v in given.items() if v is not None})
        if kind == "campaign":
            filters.pop("campaign_id", None)
            if campaign_id is not None:
                filters["meta_id"] = campaign_id
        query = KINDS[kind].objects(**filters)
        if ids:
            query = query.filter(meta_id__in=ids)
        if name_contains:
            query = query.filter(
                __raw__={"name": {"$regex": re.escape(name_contains), "$options": "i"}}
            )
        if not include_deleted:
            query = query.filter(deleted_at=None)
        last = after(cursor, 1)
        if last:
            query = query.filter(meta_id__gt=last[0])
        found = list(query.order_by("meta_id").limit(limit + 1))
        currencies = account_currencies(who.tenant_id)
        return page(
            found,
            limit,
            lambda d: entity_row(d, kind, currencies.get(d.account_id)),
            lambda d: [d.meta_id],
        )

    @server.tool(annotations=READ_ONLY)
    def performance(
        ctx: Context,
        level: Level,
        since: date,
        until: date,
        account_id: AccountId | None = None,
        entity_ids: Annotated[list[EntityId] | None, Field(max_length=100)] = None,
        attribution_windows: Annotated[
            str, Field(pattern=r"^(default|[0-9a-z_]+(,[0-9a-z_]+)*)$", max_length=100)
        ] = "default",
        currency: Literal["account", "reporting"] = "account",
        limit: Limit = DEFAULT_ROWS,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Daily performance rows of one level from since to until (inclusive, the account's
        days): impressions, clicks, reach, spend, conversions, revenue, CTR, CPC, CPM. Money in
        the account's currency (major units); with currency=reporting also in the tenant's
        reporting currency at each day's rate. attribution_windows: "default" (the ad set's
        own setting) or a stored window set such as "1d_view,7d_click". Each row is one
        stored daily row: (account_id, level, entity_id, date). Breakdowns (country, age,
        placement...) come from report_rows."""
        who = access.caller(ctx)
        check_days(since, until)
        filters: dict[str, Any] = {
            "tenant_id": who.tenant_id,
            "level": level,
            "breakdown_key": "",
            "attribution_key": attribution_windows,
            "date__gte": since.isoformat(),
            "date__lte": until.isoformat(),
        }
        if account_id is not None:
            filters["account_id"] = account_id
        query = DailyInsight.objects(**filters)
        if entity_ids:
            query = query.filter(entity_id__in=entity_ids)
        order = ("account_id", "entity_id", "date")
        last = after(cursor, len(order))
        if last:
            query = query.filter(__raw__=after_key(order, last))
        found = list(query.order_by(*order).limit(limit + 1))
        converter = _converter(who.tenant_id, found[:limit], "date", currency)

        def row(doc: DailyInsight) -> dict[str, Any]:
            shaped = {"date": doc.date, **metrics_of(doc, converter, doc.date)}
            shaped.pop("breakdowns", None)
            shaped["attribution_windows"] = doc.attribution_key
            return shaped

        return page(found, limit, row, lambda d: [str(getattr(d, f)) for f in order])

    @server.tool(annotations=READ_ONLY)
    def reports(ctx: Context) -> dict[str, Any]:
        """The reports this tenant keeps (breakdowns, attribution windows), by name."""
        who = access.caller(ctx)
        found = TenantReport.objects(tenant_id=who.tenant_id).order_by("name").limit(MAX_ROWS)
        settings = TenantSettings.objects(tenant_id=who.tenant_id).first()
        return {
            "reporting_currency": settings.reporting_currency if settings else None,
            "rows": [{"name": r.name, "enabled": r.enabled} for r in found],
        }

    @server.tool(annotations=READ_ONLY)
    def report_rows(
        ctx: Context,
        report: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")],
        since: date,
        until: date,
        level: Level | None = None,
        account_id: AccountId | None = None,
        entity_id: EntityId | None = None,
        breakdown: Annotated[
            str | None,
            Field(pattern=r"^[a-z_]{1,60}=[^\x00-\x1f]{1,200}$", description="e.g. country=US"),
        ] = None,
        currency: Literal["account", "reporting"] = "account",
        limit: Limit = DEFAULT_ROWS,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        """Rows of one of the tenant's reports (by breakdown values and attribution windows)
        from since to until, by first day, entity and breakdown; money in the account's
        currency (major units), with currency=reporting also in the tenant's reporting
        currency at each first day's rate."""
        who = access.caller(ctx)
        check_days(since, until)
        if not TenantReport.objects(tenant_id=who.tenant_id, name=report).count():
            raise ToolError(f"report: this tenant has no report {report}")
        filters: dict[str, Any] = {
            "tenant_id": who.tenant_id,
            "report": report,
            "date_start__gte": since.isoformat(),
            "date_start__lte": until.isoformat(),
        }
        given = {"level": level, "account_id": account_id, "entity_id": entity_id}
        filters.update({k: v for k, v in given.items() if v is not None})
        query = ReportRow.objects(**filters)
        if breakdown is not None:
            name, _, value = breakdown.partition("=")
            query = query.filter(__raw__={f"breakdowns.{name}": value})  # equality, never an op
        order = ("span", "entity_id", "breakdown_key", "attribution_key")
        last = after(cursor, len(order))
        if last:
            query = query.filter(__raw__=after_key(order, last))
        found = list(query.order_by(*order).limit(limit + 1))
        converter = _converter(who.tenant_id, found[:limit], "date_start", currency)

        def row(doc: ReportRow) -> dict[str, Any]:
            windows = {k: decimal_text(v) for k, v in (doc.conversions_by_window or {}).items()}
            return {
                "date_start": doc.date_start,
                "date_stop": doc.date_stop,
                "attribution_windows": doc.attribution_key,
                "conversions_by_window": windows,
                **metrics_of(doc, converter, doc.date_start),
            }

        return page(found, limit, row, lambda d: [str(getattr(d, f)) for f in order])
