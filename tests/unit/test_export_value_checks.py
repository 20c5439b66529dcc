"""The batch checks of :class:`~metasync.export.values.Values` and DuckDB's per-kind CSV fields
give what the row-by-row path and :func:`~metasync.export.duck._field` give, value for value."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from metasync.export.duck import FIELDS, RANGES, _field
from metasync.export.tables import Column, Table
from metasync.export.values import NUL_AND_SURROGATES, SURROGATES, Values

TABLE = Table(
    name="t",
    key=("id",),
    columns=(
        Column("id", "bigint"),
        Column("n", "integer"),
        Column("name", "text"),
        Column("tags", "json"),
        Column("spend", "numeric"),
        Column("ratio", "double"),
    ),
)
COLUMNS = [c.name for c in TABLE.columns]
BATCHES: dict[str, list[tuple[Any, ...]]] = {
    "clean": [(1, 2, "a", {"k": ["v"]}, Decimal("1.5"), 0.5), (2, None, None, None, None, None)],
    "nul in text": [(1, 2, "a\x00b", None, None, None), (2, 3, "c", None, None, None)],
    "nul beside other scripts": [
        (1, 2, "café\x00", None, None, None),
        (2, 3, "ü", None, None, None),
    ],
    "surrogate in a json key": [(1, 2, "a", {"k\ud800": [1, "x"]}, None, None)],
    "nul in a json list": [(1, 2, "a", ["x", ["y\x00"]], None, None)],
    "id beyond 64 bits": [(2**64, 2, "a\x00", None, None, None), (3, 4, "b", None, None, None)],
    "integer out of range": [
        (1, 2**31, "a", None, None, None),
        (2, -(2**31), "b", None, None, None),
    ],
    "text id": [(1, 2, "a", None, None, None), ("c1", 3, "b", None, None, None)],
    "only text ids": [("c1", 3, "b", None, None, None)],
    "nan among ids": [(float("nan"), 2, "a", None, None, None), (2**70, 3, "b", None, None, None)],
    "numeric too large": [(1, 2, "a", None, Decimal("1e30"), None)],
    "booleans": [(True, False, "a", None, None, None)],
}


def _by_row(values: Values, rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    kinds = {c.name: c.kind for c in TABLE.columns}
    texts = [i for i, c in enumerate(COLUMNS) if kinds[c] in ("text", "json")]
    checked = [
        (i, c, values.ranges.get(kinds[c]))
        for i, c in enumerate(COLUMNS)
        if kinds[c] in values.ranges or kinds[c] in ("bigint", "integer")
    ]
    return [list(r) for r in values._row_by_row(TABLE, COLUMNS, rows, kinds, texts, checked)]


@pytest.mark.parametrize("batch", sorted(BATCHES))
@pytest.mark.parametrize("ranges", ["postgres", "duckdb"])
def test_a_batch_checked_at_once_gives_what_row_by_row_gives(batch: str, ranges: str) -> None:
    rows = BATCHES[batch]
    fast, slow = (
        Values(NUL_AND_SURROGATES) if ranges == "postgres" else Values(SURROGATES, RANGES)
        for _ in range(2)
    )
    got = [list(r) for r in fast.rows(TABLE, COLUMNS, rows)]
    assert got == _by_row(slow, rows)
    fast.commit()
    slow.commit()
    assert (fast.removed, fast.problems()) == (slow.removed, slow.problems())


def test_a_clean_batch_is_not_copied_and_a_dirty_one_is_counted_and_named() -> None:
    values = Values(NUL_AND_SURROGATES)
    rows = BATCHES["clean"]
    assert values.rows(TABLE, COLUMNS, rows) is rows
    dirty = BATCHES["nul in text"] + BATCHES["id beyond 64 bits"]
    assert [r[2] for r in values.rows(TABLE, COLUMNS, dirty)] == ["ab", "c", "b"]
    values.commit()
    assert values.removed == {"t": 1}  # the set-aside row's NUL is not counted
    assert values.problems() == [f"t row id={2**64} not written: id {2**64} does not fit bigint"]


SAMPLES: list[Any] = [
    None,
    "",
    "\\N",
    'say "hi", ok',
    "é\x00",
    0,
    -7,
    2**70,
    True,
    False,
    1.5,
    float("nan"),
    Decimal("-1.25"),
    date(2026, 12, 7),
    datetime(2026, 12, 7, 10, 30, tzinfo=UTC),
    datetime(2026, 12, 7, 10, 30, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 12, 7, 10, 30),
    datetime(2026, 12, 7, 10, 30, 0, 5, tzinfo=UTC),
    datetime(2026, 12, 7, 10, 30, tzinfo=timezone(timedelta(0), "Z")),
    Decimal("1E+2"),
    Decimal("NaN"),
    {"b": 1, "a": ['"q"']},
    ["x"],
]


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_each_kinds_csv_field_is_the_generic_field(kind: str) -> None:
    assert [FIELDS[kind](v) for v in SAMPLES] == [_field(v) for v in SAMPLES]
