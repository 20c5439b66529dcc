"""How big an answer may get: pages of at most :data:`MAX_ROWS` rows and about
:data:`MAX_CHARS` characters of JSON, with a cursor for the rest.

An assistant reads every character of an answer into its context, so a tool never answers
"everything": rows come in a stable order, a page stops at whichever limit it meets first, and
``next_cursor`` (opaque, the last row's sort key, the REST API's own format) resumes exactly
after the last row given. Text from Meta (names, ad copy) is never cut: a row is whole or not
on the page. Money is exact decimal text in the currency's major units, next to its currency.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from metasync.api.common import ApiProblem, decode_cursor, encode_cursor
from metasync.models import as_decimal

__all__ = [
    "DEFAULT_ROWS",
    "MAX_CHARS",
    "MAX_DAYS",
    "MAX_ROWS",
    "after",
    "check_days",
    "decimal_text",
    "page",
]

MAX_ROWS = 200
DEFAULT_ROWS = 50
MAX_CHARS = 40_000  # of JSON per page: about 10,000 tokens
MAX_DAYS = 400  # one question's date range, inclusive


def decimal_text(value: Any) -> str | None:
    """A stored amount as exact text (``"12.34"``); None stays None."""
    amount = as_decimal(value)
    return None if amount is None else str(amount)


def check_days(since: date, until: date, name: str = "since") -> None:
    """A :class:`ToolError` naming ``name`` when the range is backwards or too long."""
    if since > until:
        raise ToolError(f"{name}: {since} is after {until}")
    if (until - since).days + 1 > MAX_DAYS:
        raise ToolError(f"{name}: at most {MAX_DAYS} days in one question")


def after(cursor: str | None, size: int) -> list[str] | None:
    """The sort key a cursor of a previous page holds; a :class:`ToolError` for anything
    else."""
    try:
        return decode_cursor(cursor, size)
    except ApiProblem as exc:
        raise ToolError(exc.detail) from None


def _length(row: dict[str, Any]) -> int:
    return len(json.dumps(row, default=str)) + 2


def page(
    found: Sequence[Any],
    limit: int,
    row: Callable[[Any], dict[str, Any]],
    key: Callable[[Any], list[str]],
    **extra: Any,
) -> dict[str, Any]:
    """``{"rows": [...], "next_cursor": ..., **extra}`` of up to ``limit`` rows of ``found``
    (which holds up to ``limit + 1`` items in order: one more tells that more follow), cut
    earlier when the rows reach :data:`MAX_CHARS`; at least one row whenever there is one."""
    rows: list[dict[str, Any]] = []
    used = _length(extra)
    more = False
    for index, item in enumerate(found):
        if index >= limit:
            more = True
            break
        shaped = row(item)
        size = _length(shaped)
        if rows and used + size > MAX_CHARS:
            more = True
            break
        rows.append(shaped)
        used += size
    last = found[len(rows) - 1] if rows else None
    cursor = encode_cursor(key(last)) if more and last is not None else None
    return {**extra, "rows": rows, "next_cursor": cursor, "truncated": more}


def money(amount: Decimal | float | None, places: str = "0.01") -> str | None:
    """A computed amount as decimal text, rounded to ``places``; None stays None."""
    if amount is None:
        return None
    return str(Decimal(str(amount)).quantize(Decimal(places)))
