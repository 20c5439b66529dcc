"""DuckDB's CSV fields converted once per distinct value give exactly the fields converted
value by value, whatever a column holds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from metasync.export.duck import FIELDS, SAMPLED, _column_fields, _field

STAMP = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
COLUMNS: list[tuple[str, list[Any]]] = [
    ("timestamp", [STAMP, None] * SAMPLED),  # repeated: converted by lookup
    ("date", [date(2026, 11, d % 28 + 1) for d in range(SAMPLED * 2)]),
    ("text", ["a", "\\N", 'say "hi"', None] * SAMPLED),  # "\\N" stays text, NULL stays bare
    ("double", [0.0, -0.0, 1.5, None] * SAMPLED),  # equal keys that are not the same field
    ("double", [float("nan"), 2.0] * SAMPLED),
    ("bigint", [1, True, 2, False] * SAMPLED),  # equal across types
    ("numeric", [Decimal("1.0"), Decimal("1"), 1] * SAMPLED),
    ("numeric", [Decimal("1.0"), Decimal("1")] * SAMPLED),  # equal, with other texts
    ("json", [{"a": 1}, ["x"], None] * SAMPLED),  # unhashable
    ("bigint", list(range(SAMPLED * 2))),  # distinct: value by value
    ("text", ["x"] * 10),  # short
]


@pytest.mark.parametrize(("kind", "values"), COLUMNS)
def test_a_column_converted_by_lookup_equals_it_converted_value_by_value(
    kind: str, values: list[Any]
) -> None:
    field = FIELDS.get(kind, _field)
    assert _column_fields(field, values) == [field(v) for v in values]
