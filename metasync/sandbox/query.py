"""Request parameters the way Meta reads them: fields, filtering, cursors and date presets."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from metasync.sandbox.errors import GraphError

__all__ = [
    "decode_cursor",
    "encode_cursor",
    "parse_fields",
    "parse_filtering",
    "preset_range",
    "select_fields",
]

FieldSpec = dict[str, "FieldSpec | None"]


def parse_fields(text: str | None) -> FieldSpec:
    """``"id,name,creative{id,name}"`` -> ``{"id": None, "name": None, "creative": {...}}``."""
    spec: FieldSpec = {}
    if not text:
        return spec
    if text.lstrip().startswith("["):  # the official SDK sends a JSON array
        try:
            names = json.loads(text)
        except ValueError:
            raise GraphError(
                400, 100, "(#100) fields is not valid JSON", error_type="GraphMethodException"
            ) from None
        text = ",".join(str(name) for name in names) if isinstance(names, list) else ""
    depth, start = 0, 0
    parts: list[str] = []
    for index, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if "{" in part and part.endswith("}"):
            name, inner = part.split("{", 1)
            spec[name.strip()] = parse_fields(inner[:-1])
        else:
            spec[part.split(".")[0]] = None
    return spec


def select_fields(
    obj: Mapping[str, Any], spec: FieldSpec, allowed: frozenset[str], node_type: str
) -> dict[str, Any]:
    """The fields of ``obj`` named in ``spec`` (``id`` always); unknown names are error 100."""
    unknown = [name for name in spec if name not in allowed]
    if unknown:
        raise GraphError(
            400,
            100,
            f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type ({node_type})",
            error_type="GraphMethodException",
        )
    result: dict[str, Any] = {}
    for name, sub in spec.items():
        if name not in obj:
            continue  # Meta leaves out fields without a value
        value = obj[name]
        if sub and isinstance(value, dict):
            value = {key: value[key] for key in sub if key in value} | {"id": value.get("id")}
            value = {key: item for key, item in value.items() if item is not None}
        result[name] = value
    result.setdefault("id", obj.get("id"))
    if "id" not in spec and "id" in result and node_type == "AdsInsights":
        result.pop("id")
    return result


def parse_filtering(raw: Any) -> list[dict[str, Any]]:
    """The ``filtering`` parameter: a JSON list of ``{field, operator, value}``."""
    if raw in (None, ""):
        return []
    try:
        rules = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise GraphError(
            400,
            100,
            "(#100) param filtering must be a JSON array",
            error_type="GraphMethodException",
        ) from None
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise GraphError(
            400,
            100,
            "(#100) param filtering must be an array of objects",
            error_type="GraphMethodException",
        )
    for rule in rules:
        if rule.get("operator") not in ("GREATER_THAN", "LESS_THAN", "IN", "NOT_IN", "EQUAL"):
            raise GraphError(
                400,
                100,
                f"(#100) Filtering operator {rule.get('operator')!r} is not supported",
                error_type="GraphMethodException",
            )
    return rules


def encode_cursor(key: str) -> str:
    """An opaque cursor naming the last item of a page (with a nonce, like Meta's)."""
    raw = json.dumps({"k": key, "n": secrets.token_hex(3)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return str(json.loads(raw)["k"])
    except (ValueError, KeyError, TypeError):
        raise GraphError(
            400,
            2642,
            "Invalid cursor: the paging cursor is malformed or expired",
            error_type="OAuthException",
        ) from None


PRESETS = (
    "today",
    "yesterday",
    "last_3d",
    "last_7d",
    "last_14d",
    "last_28d",
    "last_30d",
    "last_90d",
    "this_month",
    "last_month",
    "maximum",
    "this_year",
    "last_year",
)


def preset_range(preset: str, today: date, retention_start: date) -> tuple[date, date]:
    """Meta's date presets, in the account's timezone (``today`` is the account's today)."""
    yesterday = today - timedelta(days=1)
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return yesterday, yesterday
    if preset.startswith("last_") and preset.endswith("d") and preset[5:-1].isdigit():
        return today - timedelta(days=int(preset[5:-1])), yesterday
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if preset == "this_year":
        return today.replace(month=1, day=1), today
    if preset == "last_year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    if preset == "maximum":
        return retention_start, today
    raise GraphError(
        400,
        100,
        f"(#100) date_preset must be one of {', '.join(PRESETS)}",
        error_type="GraphMethodException",
    )


def as_list(value: Any) -> Sequence[Any]:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [part for part in value.split(",") if part]
        return parsed if isinstance(parsed, list) else [parsed]
    return value if isinstance(value, list) else [value]
