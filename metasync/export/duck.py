"""DuckDB (``duckdb:///path/to/file.duckdb``) and Parquet files (``parquet:///directory``) as
destinations: the embedded default, no server to run.

Batches are staged through a CSV file (DuckDB's fastest way in from Python without a data-frame
library) and merged with the same statements as PostgreSQL. JSON columns are text holding JSON;
times are UTC ``TIMESTAMP``. A Parquet destination keeps its working copy in
``<directory>/.metasync/warehouse.duckdb`` and, after each committed export, rewrites
``<directory>/<schema>/<table>.parquet`` for the tables that changed (written beside and
renamed into place, so a reader never sees half a file). Parquet files cannot be changed in
place: a table's file costs its whole size to rewrite, which is why only changed tables are.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from metasync.export.sql import quote
from metasync.export.tables import Table
from metasync.export.warehouse import Warehouse

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


class DuckWarehouse(Warehouse):
    types = TYPES
    placeholder = "?"

    def __init__(self, path: Path, label: str) -> None:
        super().__init__(label)
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
        if not rows:
            return
        file = Path(self._scratch.name) / f"{name}.csv"
        with file.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            for row in rows:
                writer.writerow([_text(v) for v in row])
        self.connection.execute(
            f"COPY {quote(name)} FROM '{file}' (FORMAT CSV, HEADER false, NULLSTR '{NULL}', "
            "QUOTE '\"', ESCAPE '\"')"
        )

    def commit(self) -> None:
        self.connection.execute("COMMIT")
        self.connection.execute("BEGIN TRANSACTION")

    def rollback(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.execute("BEGIN TRANSACTION")

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
                f"COPY (SELECT * FROM {quote(self.schema)}.{quote(name)}) TO '{partial}' "
                "(FORMAT PARQUET)"
            )
            os.replace(partial, final)
            self.execute(f"DELETE FROM {self._stale} WHERE name = ?", [name])
            self.commit()


def _text(value: Any) -> str:
    """A value as DuckDB's CSV reader takes it."""
    if value is None:
        return NULL
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
