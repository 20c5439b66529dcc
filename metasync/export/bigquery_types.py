"""Column kinds as BigQuery holds and loads them, and values as its load jobs and query
parameters read them: the types of :mod:`metasync.export.bigquery`'s tables, one converter per
column (picked once, with fast paths for the values a kind usually holds) and the typed query
parameters of its statements.

Money is ``NUMERIC(38, 9)``, rounded half-even to 9 places; exchange rates keep 10 places as
``BIGNUMERIC(38, 10)``, staged as text and cast (the emulator cannot load a ``BIGNUMERIC`` and
reads a bare one as 5 places). Loads are newline-delimited JSON: numbers as exact text, times
in UTC ISO 8601, floats JSON cannot spell by BigQuery's names for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from google.cloud import bigquery

from metasync.export.merge import text_value
from metasync.export.tables import Column
from metasync.export.values import INTEGER_RANGES

__all__ = [
    "LOADED",
    "RANGES",
    "RATES",
    "RATE_TYPE",
    "TYPES",
    "converter",
    "load_type",
    "parameter",
]

TYPES = {
    "text": "STRING",
    "bigint": "INT64",
    "integer": "INT64",
    "double": "FLOAT64",
    "numeric": "NUMERIC(38, 9)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOL",
    "json": "JSON",
}
LOADED = {**TYPES, "numeric": "NUMERIC"}  # a load job's schema takes type names only
SCALE = 9
# kept to 10 places: BIGNUMERIC(38, 10), staged as text and cast (the emulator cannot load
# a BIGNUMERIC, and reads a bare BIGNUMERIC as 5 places)
RATES = frozenset({"fx_rate"})
RATE_TYPE, RATE_SCALE = "BIGNUMERIC(38, 10)", 10
RANGES: dict[str, tuple[int | Decimal, int | Decimal]] = {
    "bigint": INTEGER_RANGES["bigint"],
    "integer": INTEGER_RANGES["bigint"],  # INT64
    # the narrower of NUMERIC (29 digits before the point) and BIGNUMERIC(38, 10) (28)
    "numeric": (Decimal("-1e28") + Decimal("1e-10"), Decimal("1e28") - Decimal("1e-10")),
}
# a parameter's kind by its value's type (bool before int: a bool is an int)
_PARAMETER_KINDS = (
    (bool, "boolean"),
    (int, "bigint"),
    (float, "double"),
    (datetime, "timestamp"),
    (date, "date"),
    (Decimal, "numeric"),
)


def load_type(column: Column) -> str:
    """``column``'s type in a load job's schema (rates as text: see :data:`RATES`)."""
    return "STRING" if column.name in RATES else LOADED[column.kind]


def converter(column: Column) -> Callable[[Any], Any]:
    """:func:`_json_value` for ``column``, skipping its checks for the values a kind usually
    holds (text, integers, finite floats as JSON spells them; money rounded and times in UTC
    as :func:`~metasync.export.merge.text_value` spells them)."""
    slow = partial(_json_value, column=column)
    if column.name in RATES:
        return slow
    usual = {"text": str, "bigint": int, "integer": int}.get(column.kind)
    if usual is not None:

        def same(value: Any) -> Any:
            return value if value is None or type(value) is usual else slow(value)

        return same
    return _FAST.get(column.kind, lambda _: slow)(slow)


def _fast_double(slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if type(value) is float and math.isfinite(value):
            return value
        return None if value is None else slow(value)

    return convert


def _fast_money(slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    step = Decimal(1).scaleb(-SCALE)

    def convert(value: Any) -> Any:
        if type(value) is Decimal:
            return format(value.quantize(step), "f")
        return None if value is None else slow(value)

    return convert


def _fast_time(slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is UTC:
            return value.isoformat()
        return None if value is None else slow(value)

    return convert


_FAST = {"double": _fast_double, "numeric": _fast_money, "timestamp": _fast_time}


def _json_value(value: Any, column: Column) -> Any:
    """One value as a load job of newline-delimited JSON reads it into ``column``'s type:
    numbers as exact text (rounded half-even to the column's scale), times in UTC ISO 8601,
    JSON as nested JSON, floats that JSON cannot spell as BigQuery's names for them."""
    if value is None:
        return None
    kind = column.kind
    if kind == "json":
        return value
    if kind in ("bigint", "integer") and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "double" and isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return number
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "numeric" and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = Decimal(str(value))
    if isinstance(value, (datetime, date, Decimal)):
        return text_value(value, kind, RATE_SCALE if column.name in RATES else SCALE)
    return value if isinstance(value, str) else text_value(value, kind, SCALE)


def parameter(name: str | None, value: Any, kind: str | None = None) -> Any:
    """A query parameter of ``value``, its type from ``kind`` (a column kind) or the value."""
    if kind is None:
        kind = next((k for t, k in _PARAMETER_KINDS if isinstance(value, t)), "text")
    return bigquery.ScalarQueryParameter(name, LOADED[kind], value)
