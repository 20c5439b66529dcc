"""``/api/v1/reports/{report}/rows``: a report's rows (breakdowns, windows), in pages.

Rows come in the order of their key (first day, entity, breakdown values, attribution
windows), so a cursor of those four parts resumes exactly where a page ended. A report the
tenant never enabled answers 404, like any other tenant's.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from metasync.api.common import (
    ApiProblem,
    Auth,
    Cursor,
    Limit,
    after_key,
    check_day_range,
    decode_cursor,
    encode_cursor,
    metrics_of,
    money,
    reporting_converter,
)
from metasync.api.schemas import Page, ReportRowOut
from metasync.export.currency import Converter
from metasync.models import ReportRow, TenantReport
from metasync.reports.catalogue import ACTION_BREAKDOWNS, BREAKDOWNS, RETIRED_BREAKDOWNS

KNOWN_BREAKDOWNS = frozenset((*BREAKDOWNS, *ACTION_BREAKDOWNS, *RETIRED_BREAKDOWNS))

__all__ = ["add_report_routes"]


def _out(row: ReportRow, converter: Converter | None) -> ReportRowOut:
    windows = {k: money(v) or "0" for k, v in (row.conversions_by_window or {}).items()}
    return ReportRowOut(
        date_start=row.date_start,
        date_stop=row.date_stop,
        attribution_windows=row.attribution_key,
        conversions_by_window=windows,
        metrics=dict(row.metrics or {}),
        **metrics_of(row, converter, row.date_start),
    )


def add_report_routes(router: APIRouter) -> None:
    """Register the report rows route on ``router``."""

    @router.get("/reports/{report}/rows", response_model=Page[ReportRowOut])
    def report_rows(
        who: Auth,
        report: str,
        level: Literal["account", "campaign", "adset", "ad"] | None = None,
        account_id: Annotated[str | None, Query(pattern=r"^\d{1,20}$")] = None,
        entity_id: str | None = None,
        since: Annotated[date | None, Query(description="first day, the account's")] = None,
        until: Annotated[date | None, Query(description="last day, inclusive")] = None,
        breakdown: Annotated[
            str | None,
            Query(
                max_length=300,
                pattern=r"^[a-z_]+=[^\x00-\x1f]{1,200}$",
                description="name=value, e.g. country=US: a breakdown's name, a plain value",
            ),
        ] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Page[ReportRowOut]:
        """Rows of one of the tenant's reports, by first day, entity and breakdown values."""
        if not TenantReport.objects(tenant_id=who.tenant_id, name=report).count():
            raise ApiProblem(404, f"report: this tenant has no report {report}")
        check_day_range(since, until)
        filters: dict[str, Any] = {"tenant_id": who.tenant_id, "report": report}
        given = {
            "level": level,
            "account_id": account_id,
            "entity_id": entity_id,
            "date_start__gte": since and since.isoformat(),
            "date_start__lte": until and until.isoformat(),
        }
        filters.update({name: value for name, value in given.items() if value is not None})
        query = ReportRow.objects(**filters)
        if breakdown is not None:
            name, _, value = breakdown.partition("=")
            if name not in KNOWN_BREAKDOWNS:
                known = ", ".join(sorted(KNOWN_BREAKDOWNS))
                raise ApiProblem(400, f"breakdown: {name} is not a breakdown (one of {known})")
            query = query.filter(__raw__={f"breakdowns.{name}": value})  # equality, never an op
        order = ("span", "entity_id", "breakdown_key", "attribution_key")
        after = decode_cursor(cursor, len(order))
        if after:
            query = query.filter(__raw__=after_key(order, after))
        found = list(query.order_by(*order).limit(limit + 1))
        last = found[limit - 1] if len(found) > limit else None
        more = encode_cursor([str(getattr(last, f)) for f in order]) if last is not None else None
        page = found[:limit]
        converter = reporting_converter(who.tenant_id, page, "date_start")
        return Page[ReportRowOut](data=[_out(r, converter) for r in page], next_cursor=more)
