"""DuckDB (``duckdb:///path/to/file.duckdb``) and Parquet files (``parquet:///directory``) as
destinations: the embedded default, no server to run.

Batches are staged through a CSV file (DuckDB's fastest way in from Python without a data-frame
library, built a column at a time, a column that repeats its values by one conversion per
distinct value: :func:`_column_fields`) and merged with the same statements as PostgreSQL. A first
export's batch whose keys one query proves new (:mod:`metasync.export.newkeys`) is copied
straight into its table instead, as a raw load is: DuckDB has no savepoint to take back a
``COPY`` that met a key, so it asks first rather than trying as PostgreSQL does. In that file
every value is quoted and only NULL is the bare ``\\N`` (read with ``ALLOW_QUOTED_NULLS
false``), so the text ``\\N`` stays text. Paths are quoted as SQL strings (a directory may hold
``'``). Text keeps NUL (DuckDB stores it); lone surrogates are removed and numbers that do not
fit their column set their row aside (:class:`~metasync.export.values.Values`). JSON columns
are text holding JSON; times are UTC ``TIMESTAMP``. A Parquet destination keeps its working
copy in ``<directory>/.metasync/warehouse.duckdb`` and, after each committed export, rewrites
``<directory>/<schema>/<table>.parquet`` for the tables that changed (written beside and
renamed into place, so a reader never sees half a file). Parquet files cannot be changed in
place: a table's file costs its whole size to rewrite, which is why only changed tables are.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from metasync.export.newkeys import exists_sql, probe
from metasync.export.sql import literal, quote
from metasync.export.tables import Table
from metasync.export.values import INTEGER_RANGES, SURROGATES, Values
from metasync.export.warehouse import Warehouse, _unique

__all__ = ["DuckWarehouse", "ParquetWarehouse"]

TYPES = {
    "text": "VARCHAR",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "double": "DOUBLE",
    "numeric": "DECIMAL(38,10)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "json": "VARCHAR",
}
NULL = "\\N"
# DECIMAL(38,10) holds 28 digits before the point
RANGES: dict[str, tuple[int | Decimal, int | Decimal]] = {
    **INTEGER_RANGES,
    "numeric": (Decimal("-1e28") + Decimal("1e-10"), Decimal("1e28") - Decimal("1e-10")),
}


class DuckWarehouse(Warehouse):
    types = TYPES
    placeholder = "?"

    def __init__(self, path: Path, label: str) -> None:
        super().__init__(label)
        self.values = Values(SURROGATES, RANGES)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = duckdb.connect(str(path))
        self.connection.execute("BEGIN TRANSACTION")
        self._scratch = tempfile.TemporaryDirectory(prefix="metasync-duckdb-")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        result = self.connection.execute(sql, list(params)).fetchall()
        if result and len(result[0]) == 1 and isinstance(result[0][0], int):
            return int(result[0][0])
        return 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = self.connection.execute(sql, list(params)).fetchall()
        return [tuple(_aware(v) for v in row) for row in rows]

    def stage(
        self, name: str, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        kinds = {c.name: c.kind for c in table.columns}
        spec = ", ".join(f"{quote(c)} {TYPES[kinds[c]]}" for c in columns)
        self.connection.execute(f"DROP TABLE IF EXISTS temp.{quote(name)}")
        self.connection.execute(f"CREATE TEMPORARY TABLE {quote(name)} ({spec})")
        fitted = self.values.rows(table, columns, rows)
        if fitted:
            self._copy(quote(name), name, table, columns, fitted)

    def _merge(
        self,
        table: Table,
        rows: Sequence[Sequence[Any]],
        parents: Sequence[Sequence[Any]],
        fresh: bool,
    ) -> int:
        """A first export's batch is copied straight into its table when one query proves
        none of its keys (of a child table: of its parents) is there
        (:mod:`metasync.export.newkeys`), the last row of a key kept; otherwise staged and
        merged. (A ``COPY`` that met a key would abort the whole transaction: DuckDB has no
        savepoints, so the writer asks first.)"""
        if fresh and not table.versions and (rows or parents):
            counted = self.values.checkpoint()
            fitted = self.values.rows(table, table.names, _unique(table, rows))
            found = probe(table, fitted, parents, quote, self.placeholder)
            target = f"{quote(self.schema)}.{quote(table.name)}"
            if found is None or not self.query(exists_sql(target, found), found.params)[0][0]:
                if fitted:
                    self._copy(target, table.name, table, table.names, fitted)
                return len(fitted)
            self.values.back_to(counted)
        return super()._merge(table, rows, parents, fresh)

    def _copy(
        self,
        target: str,
        file_name: str,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """``rows`` (checked) written as one CSV file, converted a column at a time, and
        copied into ``target``."""
        kinds = {c.name: c.kind for c in table.columns}
        file = Path(self._scratch.name) / f"{file_name}.csv"
        fields = [
            _column_fields(FIELDS.get(kinds[c], _field), values)
            for c, values in zip(columns, zip(*rows, strict=True), strict=True)
        ]
        with file.open("w", newline="", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in map(",".join, zip(*fields, strict=True)))
        names = ", ".join(quote(c) for c in columns)
        self.connection.execute(
            f"COPY {target} ({names}) FROM {literal(str(file))} (FORMAT CSV, HEADER false, "
            f"NULLSTR '{NULL}', QUOTE '\"', ESCAPE '\"', ALLOW_QUOTED_NULLS false)"
        )

    def commit(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.execute("BEGIN TRANSACTION")
        self.values.commit()

    def rollback(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.execute("BEGIN TRANSACTION")
        self.values.rollback()

    def close(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()
        self._scratch.cleanup()


class ParquetWarehouse(DuckWarehouse):
    """A table's file is owed from the batch that changed it: the name is written to
    ``_metasync_stale_files`` in that batch's transaction and removed once the file is
    rewritten, so an export killed between its commits and its files leaves them owed to the
    next export rather than stale for good."""

    def __init__(self, directory: Path, label: str) -> None:
        super().__init__(directory / ".metasync" / "warehouse.duckdb", label)
        self.directory = directory

    def open_schema(self, schema: str) -> None:
        super().open_schema(schema)
        self.execute(f"CREATE TABLE IF NOT EXISTS {self._stale} (name VARCHAR PRIMARY KEY)")
        self.commit()

    @property
    def _stale(self) -> str:
        return f"{quote(self.schema)}._metasync_stale_files"

    def changed(self, table: Table) -> None:
        self.execute(f"INSERT OR IGNORE INTO {self._stale} VALUES (?)", [table.name])

    def after_commit(self, tables: set[str]) -> None:
        folder = self.directory / self.schema
        folder.mkdir(parents=True, exist_ok=True)
        owed = {row[0] for row in self.query(f"SELECT name FROM {self._stale}")}
        for name in sorted(owed | tables):
            final = folder / f"{name}.parquet"
            partial = folder / f".{name}.parquet.partial"
            self.connection.execute(
                f"COPY (SELECT * FROM {quote(self.schema)}.{quote(name)}) TO "
                f"{literal(str(partial))} (FORMAT PARQUET)"
            )
            os.replace(partial, final)
            self.execute(f"DELETE FROM {self._stale} WHERE name = ?", [name])
            self.commit()


def _column_fields(field: Callable[[Any], str], values: Sequence[Any]) -> list[str]:
    """A column's values as CSV fields by ``field``, each distinct value converted once when
    the column repeats its values (days, stamps, action types, an ad's id over its days: most
    of a fact table's columns, and the costly ones: a time's text costs ten times a lookup).

    A column is converted by lookup only when its first :data:`SAMPLED` values hold at most
    :data:`REPEATED` distinct ones and every value is of one type (or None): values equal
    across types (``1``, ``1.0``, ``True``) would share a field otherwise. Floats holding zero
    (``0.0`` and ``-0.0`` are equal keys) and decimals (``1.0`` and ``1``) are left to
    ``field``, as are unhashable values (JSON) and
    columns of mostly distinct values (amounts, ratios, row ids) are converted value by
    value, where hashing would cost more than it saves."""
    if len(values) < SAMPLED or len(set(_hashable(values[:SAMPLED]))) > REPEATED:
        return list(map(field, values))
    kinds = set(map(type, values)) - {type(None)}
    try:
        distinct = set(values)
    except TypeError:  # a list or dict (JSON), or a signalling NaN
        return list(map(field, values))
    zero = kinds == {float} and 0.0 in distinct
    if len(kinds) > 1 or kinds == {Decimal} or zero or len(distinct) * 4 > len(values):
        return list(map(field, values))
    converted = {value: field(value) for value in distinct}
    return list(map(converted.__getitem__, values))


def _hashable(values: Sequence[Any]) -> Iterator[Any]:
    """``values``, an unhashable one (JSON) as its identity: a sample's count of distinct
    values then counts each of them once."""
    for value in values:
        try:
            hash(value)
        except TypeError:
            yield id(value)
        else:
            yield value


SAMPLED = 256  # values looked at before a column is converted by lookup
REPEATED = 64  # at most this many distinct in the sample: converted by lookup


def _field(value: Any) -> str:
    """A value as one CSV field: NULL bare, anything else quoted (so no text reads as NULL)."""
    if value is None:
        return NULL
    return '"' + _text(value).replace('"', '""') + '"'


def _text_field(value: Any) -> str:
    """:func:`_field` for a text or JSON column, where most values are text."""
    if type(value) is str:
        return '"' + value.replace('"', '""') + '"'
    return _field(value)


def _plain_field(exact: type) -> Callable[[Any], str]:
    """:func:`_field` for a column whose values are mostly of type ``exact`` (a number or a
    date, whose text holds no quote to double)."""

    def field(value: Any) -> str:
        if type(value) is exact:
            return '"' + str(value) + '"'
        return _field(value)

    return field


def _timestamp_field(value: Any) -> str:
    if type(value) is datetime and value.tzinfo is UTC:
        return '"' + value.isoformat(sep=" ")[:-6] + '"'  # without its "+00:00"
    return _field(value)


def _boolean_field(value: Any) -> str:
    if value is True:
        return '"true"'
    if value is False:
        return '"false"'
    return _field(value)


# one converter per column kind, each :func:`_field`'s result for its usual type and
# :func:`_field` itself for anything else (None, another type); kinds not named: _field
FIELDS: dict[str, Callable[[Any], str]] = {
    "text": _text_field,
    "json": _text_field,
    "bigint": _plain_field(int),
    "integer": _plain_field(int),
    "double": _plain_field(float),
    "numeric": _plain_field(Decimal),
    "date": _plain_field(date),
    "timestamp": _timestamp_field,
    "boolean": _boolean_field,
}


def _text(value: Any) -> str:
    """A value (not None) as DuckDB's CSV reader takes it."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return moment.isoformat(sep=" ")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, Decimal, int, float, str)):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def _aware(value: Any) -> Any:
    return (
        value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value
    )
