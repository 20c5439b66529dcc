"""What every ``/api/v1`` route shares: the caller's key, problems, pages and their cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from metasync.api.keys import Caller, authenticate
from metasync.api.schemas import Problem
from metasync.export.currency import Converter, reporting_columns
from metasync.models import TenantSettings, as_decimal

__all__ = [
    "ERRORS",
    "ApiProblem",
    "Auth",
    "Cursor",
    "Limit",
    "after_key",
    "check_day_range",
    "decode_cursor",
    "encode_cursor",
    "metrics_of",
    "money",
    "reporting_converter",
    "scoped",
    "single_values",
]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem},
    401: {"model": Problem},
    403: {"model": Problem},
    404: {"model": Problem},
    429: {"model": Problem},
}
MAX_CURSOR_CHARS = 2048
MONEY_METRICS = ("spend", "conversions", "revenue", "frequency", "ctr", "cpc", "cpm")
Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]

bearer = HTTPBearer(auto_error=False, description="an API key: metasync api-keys create")
header = APIKeyHeader(name="X-API-Key", auto_error=False)


class ApiProblem(Exception):
    """An answer other than 2xx, with ``detail`` naming the problem (and the parameter)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


def caller(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    key: Annotated[str | None, Security(header)],
) -> Caller:
    """The tenant of the presented key; 401 without a valid, live one."""
    found = authenticate(credentials.credentials if credentials else key)
    if found is None:
        raise ApiProblem(401, "a valid API key is required (Authorization: Bearer msk_...)")
    return found


Auth = Annotated[Caller, Depends(caller)]


def scoped(scope: str) -> Any:
    """A dependency: the caller, when its key may do ``scope``; else 403 naming the scope."""

    def allowed(who: Auth) -> Caller:
        if scope not in who.scopes:
            how = f"metasync api-keys scope --tenant T KEY_ID --scope {scope}"
            raise ApiProblem(403, f"this key may not {scope}: give it the scope with {how}")
        return who

    return Depends(allowed)


def single_values(request: Request) -> None:
    """400 naming a query parameter given twice: every parameter takes one value, and reading
    the last one silently would answer a question nobody asked."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in seen:
            raise ApiProblem(400, f"{name}: given more than once (a single value is expected)")
        seen.add(name)


def money(value: Any) -> str | None:
    """A stored decimal as exact text (``"12.34"``); None stays None."""
    amount = as_decimal(value)
    return None if amount is None else str(amount)


def reporting_converter(tenant_id: str, rows: Sequence[Any], day: str) -> Converter | None:
    """A converter into the tenant's reporting currency with the rates of ``rows``' days
    (``day``: the field holding a row's day); None when the tenant has none."""
    settings = TenantSettings.objects(tenant_id=tenant_id).only("reporting_currency").first()
    if settings is None or not settings.reporting_currency:
        return None
    converter = Converter(settings.reporting_currency)
    days = [getattr(r, day) for r in rows if getattr(r, day, None)]
    if days:
        converter.prepare({r.currency for r in rows if r.currency}, min(days), max(days))
    return converter


def _converted(row: Any, converter: Converter, day: str | None) -> dict[str, Any]:
    columns = reporting_columns(converter, row.currency, day, spend=row.spend, revenue=row.revenue)
    return {k: v if v is None or k == "reporting_currency" else str(v) for k, v in columns.items()}


def metrics_of(
    row: Any, converter: Converter | None = None, day: str | None = None
) -> dict[str, Any]:
    """The fields of :class:`~metasync.api.schemas.MetricsOut` from a daily or report row;
    with ``converter``, spend and revenue also in the reporting currency at ``day``'s rate."""
    converted = _converted(row, converter, day) if converter is not None else {}
    return {
        **converted,
        "account_id": row.account_id,
        "level": row.level,
        "entity_id": row.entity_id,
        "breakdowns": dict(row.breakdowns or {}),
        "impressions": row.impressions,
        "clicks": row.clicks,
        "reach": row.reach,
        "currency": row.currency,
        **{name: money(getattr(row, name)) for name in MONEY_METRICS},
    }


def check_day_range(since: date | None, until: date | None) -> None:
    """400 naming ``since`` when it comes after ``until``."""
    if since is not None and until is not None and since > until:
        raise ApiProblem(400, f"since: {since} is after until {until}")


def encode_cursor(after: list[str]) -> str:
    """An opaque cursor holding the sort key of a page's last item."""
    return base64.urlsafe_b64encode(json.dumps(after).encode()).decode()


def decode_cursor(cursor: str | None, size: int) -> list[str] | None:
    """The sort key in a cursor this API gave (``size`` parts); 400 naming ``cursor`` else."""
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR_CHARS:  # a cursor this API gives is far shorter
            raise ValueError(cursor[:20])
        after = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        after = None
    if (
        not isinstance(after, list)
        or len(after) != size
        or not all(isinstance(a, str) for a in after)
    ):
        raise ApiProblem(400, "cursor: not a cursor this API gave (use next_cursor as it came)")
    return after


def after_key(order: tuple[str, ...], after: list[str]) -> dict[str, Any]:
    """A raw filter for the items sorted after ``after`` by the fields of ``order``."""
    ties = [
        {**dict(zip(order[:i], after[:i], strict=True)), order[i]: {"$gt": after[i]}}
        for i in range(len(order))
    ]
    return {"$or": ties}
