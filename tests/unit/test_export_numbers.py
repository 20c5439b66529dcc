"""Mirror values read as their columns' numbers (:mod:`metasync.export.numbers`): a value that
is no number comes back as its kind, never raised and never echoed, and the destination's
checks set its one row aside in every kind of numeric column, on both the batch and the
row-by-row path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from bson import Decimal128

from metasync.export.duck import RANGES
from metasync.export.numbers import amount, as_float, integer, minor_units, spent, total
from metasync.export.tables import Column, Table
from metasync.export.values import NUL_AND_SURROGATES, Unconvertible, Values


@pytest.mark.parametrize(
    ("value", "read"),
    [
        (None, None),
        ("12.50", 1250),
        (Decimal128("12.50"), 1250),
        (7, 700),
        ("lots", "text"),
        ("", "text"),
        (float("nan"), "NaN"),
        (Decimal("-Infinity"), "infinity"),
        ([1], "list"),
        (True, "bool"),
    ],
)
def test_a_budget_in_minor_units_or_the_kind_of_what_is_there(value: Any, read: Any) -> None:
    got = minor_units(value, "EUR")
    assert got == read and isinstance(got, Unconvertible) == isinstance(read, str)


def test_counts_are_whole_numbers_and_sums_stop_at_the_first_that_is_not() -> None:
    assert (integer("12"), integer(3.0), integer(None)) == (12, 3, None)
    assert integer("1.5") == Unconvertible("fraction")
    assert total([3, None, "", "4"]) == 7
    assert total([3, "n/a", 1.5]) == Unconvertible("text")
    assert spent(["1.25", None, Decimal128("2")]) == Decimal("3.25")
    assert spent(["1", {"eur": 1}]) == Unconvertible("dict")
    assert minor_units("1200", "JPY") == 1200  # no minor unit


def test_ratios_keep_nan_amounts_do_not() -> None:
    nan = as_float("NaN")
    assert isinstance(nan, float) and nan != nan
    assert amount("NaN") == Unconvertible("NaN")
    assert as_float("high") == Unconvertible("text") and amount(Decimal("2.5")) == Decimal("2.5")


TABLE = Table(
    "t",
    (Column("id", "bigint"), Column("n", "bigint"), Column("cost", "numeric")),
    key=("id",),
)
DOUBLE = Table("d", (Column("id", "bigint"), Column("rate", "double")), key=("id",))


@pytest.mark.parametrize("destination", ["postgres", "duckdb"])
@pytest.mark.parametrize(
    ("table", "rows", "named"),
    [
        (TABLE, [(1, 5, Decimal("1")), (2, Unconvertible("fraction"), Decimal("2"))], "n fraction"),
        (TABLE, [(1, 5, Decimal("1")), (2, 6, Unconvertible("text"))], "cost text"),
        (TABLE, [(2, 6, Unconvertible("NaN"))], "cost NaN"),
        (DOUBLE, [(1, 0.5), (2, Unconvertible("list"))], "rate list"),
    ],
)
def test_an_unconvertible_value_sets_its_row_aside_in_every_numeric_kind(
    destination: str, table: Table, rows: list[tuple[Any, ...]], named: str
) -> None:
    values = Values(NUL_AND_SURROGATES) if destination == "postgres" else Values(ranges=RANGES)
    written = values.rows(table, table.names, rows)
    values.commit()
    assert [r[0] for r in written] == [r[0] for r in rows[:-1]]
    kind = "an integer (bigint)" if named.startswith("n ") else "a number ("
    assert values.rejected_count == 1 and values.rejected[0].startswith(
        f"{table.name} row id=2 not written: {named} is not {kind}"
    )
