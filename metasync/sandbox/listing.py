"""Edges and pages: filtering objects the way Meta does, and cursor pagination."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from metasync.sandbox.errors import GraphError
from metasync.sandbox.faults import FaultProfile
from metasync.sandbox.query import as_list, decode_cursor, encode_cursor, parse_filtering

__all__ = ["DEFAULT_LIMIT", "filter_objects", "matches", "paginate"]

DEFAULT_LIMIT = 25
MAX_LIMIT = 5000
HIDDEN_BY_DEFAULT = ("ARCHIVED", "DELETED")


def _unix(meta_timestamp: str) -> int:
    return int(datetime.strptime(meta_timestamp, "%Y-%m-%dT%H:%M:%S%z").timestamp())


def matches(obj: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    """Whether ``obj`` passes one ``filtering`` rule (the field's prefix already resolved)."""
    name = str(rule.get("field", "")).split(".")[-1]
    operator, value = rule.get("operator"), rule.get("value")
    if name == "updated_time":
        try:
            threshold = int(str(value))
        except (TypeError, ValueError):
            raise GraphError(
                400,
                100,
                "(#100) Filtering on updated_time needs a unix time integer",
                error_type="GraphMethodException",
            ) from None
        actual = _unix(obj["updated_time"])
        return actual > threshold if operator == "GREATER_THAN" else actual < threshold
    if name in ("effective_status", "id", "campaign_id", "adset_id", "status", "name"):
        current = obj.get(name)
        values = [str(v) for v in as_list(value)]
        if operator in ("IN", "EQUAL"):
            return str(current) in values
        if operator == "NOT_IN":
            return str(current) not in values
    raise GraphError(
        400,
        100,
        f"(#100) Filtering field {rule.get('field')} with operator {operator} is not supported",
        error_type="GraphMethodException",
    )


def filter_objects(
    objects: Sequence[dict[str, Any]], params: Mapping[str, Any], *, hide_by_default: bool = True
) -> list[dict[str, Any]]:
    """Apply ``filtering`` and ``effective_status``; without a status filter Meta leaves
    ARCHIVED and DELETED objects out."""
    rules = parse_filtering(params.get("filtering"))
    statuses = params.get("effective_status")
    if statuses:
        rules.append({"field": "effective_status", "operator": "IN", "value": as_list(statuses)})
    status_rule = any(str(r.get("field", "")).endswith("effective_status") for r in rules)
    return [
        obj
        for obj in objects
        if all(matches(obj, rule) for rule in rules)
        and (
            status_rule
            or not hide_by_default
            or obj.get("effective_status") not in HIDDEN_BY_DEFAULT
        )
    ]


def paginate(
    items: Sequence[Any],
    key: Callable[[Any], str],
    render: Callable[[Any], dict[str, Any]],
    params: Mapping[str, Any],
    *,
    next_base: str,
    token: str | None,
    faults: FaultProfile,
) -> dict[str, Any]:
    """One page of ``items`` after the ``after`` cursor, with Meta's ``paging`` block."""
    try:
        limit = int(params.get("limit", DEFAULT_LIMIT))
    except (TypeError, ValueError):
        raise GraphError(
            400, 100, "(#100) param limit must be an integer", error_type="GraphMethodException"
        ) from None
    if limit <= 0:
        raise GraphError(
            400, 100, "(#100) param limit must be positive", error_type="GraphMethodException"
        )
    limit = min(limit, MAX_LIMIT)
    if faults.reduce_data_above is not None and limit > faults.reduce_data_above:
        raise GraphError(
            500,
            1,
            "Please reduce the amount of data you're asking for, then retry your request",
            is_transient=True,
        )
    start = 0
    after = params.get("after")
    if after:
        wanted = decode_cursor(str(after))
        if wanted:
            keys = [key(item) for item in items]
            if wanted not in keys:
                raise GraphError(400, 2642, "Invalid cursor: the object it pointed at is gone")
            start = keys.index(wanted) + 1
    chunk = (
        []
        if (start < len(items) and faults.chance(faults.empty_page_rate))
        else list(items[start : start + limit])
    )
    if len(chunk) > 1 and start + len(chunk) < len(items) and faults.chance(faults.short_page_rate):
        chunk = chunk[: max(1, len(chunk) // 2)]  # Meta: pages may hold fewer than limit
    position_key = key(chunk[-1]) if chunk else (key(items[start - 1]) if start else "")
    has_more = start + len(chunk) < len(items)
    body: dict[str, Any] = {"data": [render(item) for item in chunk]}
    paging: dict[str, Any] = {}
    if chunk or has_more:
        first_key = key(chunk[0]) if chunk else position_key
        paging["cursors"] = {
            "before": encode_cursor(first_key),
            "after": encode_cursor(position_key),
        }
    if has_more and after and faults.chance(faults.repeat_cursor_rate):
        paging["cursors"]["after"] = str(after)  # the cursor it was read at: a loop
    if has_more:
        query = {
            k: v for k, v in params.items() if k not in ("after", "appsecret_proof", "access_token")
        }
        query.update({"limit": limit, "after": paging["cursors"]["after"]})
        if token:
            query["access_token"] = token  # as Meta does: clients must not log or store it
        paging["next"] = f"{next_base}?{urlencode(query)}"
    if paging:
        body["paging"] = paging
    return body
