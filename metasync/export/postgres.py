"""PostgreSQL as a destination (``postgresql://user:password@host:port/database``).

Rows whose keys are new (a first export) are copied straight into their table inside a
savepoint; when a key is already there (a unique violation rolls the savepoint back) the batch
is staged with ``COPY`` into temporary tables (not WAL-logged; made once per
connection and emptied at each commit) and merged by one statement per table. JSON columns
are ``jsonb`` (the dbt package unnests ``url_tags`` with ``jsonb_array_elements``); times are
``timestamptz``. Text PostgreSQL refuses (NUL) is cleaned and ids that do not fit ``bigint``
are set aside by :class:`~metasync.export.values.Values`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from metasync.export.sql import quote
from metasync.export.tables import Table
from metasync.export.values import NUL_AND_SURROGATES, Values
from metasync.export.warehouse import Warehouse

__all__ = ["PostgresWarehouse"]

TYPES = {
    "text": "text",
    "bigint": "bigint",
    "integer": "integer",
    "double": "double precision",
    "numeric": "numeric",
    "date": "date",
    "timestamp": "timestamptz",
    "boolean": "boolean",
    "json": "jsonb",
}


class PostgresWarehouse(Warehouse):
    types = TYPES
    can_append = True

    def __init__(self, options: Mapping[str, str], label: str) -> None:
        """``options``: libpq's keywords, as :mod:`metasync.export.pgurl` read them."""
        super().__init__(label)
        self.values = Values(NUL_AND_SURROGATES)
        self.connection = psycopg.connect(make_conninfo(**options), autocommit=False)
        self._made: set[str] = set()  # temporary tables this connection has
        self._made_now: set[str] = set()  # ... made in the open transaction
        self._used: set[str] = set()  # ... staged in the open transaction

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(sql.encode(), params or None)
            return max(cursor.rowcount, 0)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql.encode(), params or None)
            return list(cursor.fetchall())

    def stage(
        self, name: str, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        kinds = {c.name: c.kind for c in table.columns}
        spec = ", ".join(f"{quote(c)} {TYPES[kinds[c]]}" for c in columns)
        if name not in self._made:  # once per connection; every commit empties it
            create = f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(name)} ({spec})"
            self.execute(f"{create} ON COMMIT DELETE ROWS")
            self._made.add(name)
            self._made_now.add(name)
        elif name in self._used:  # staged twice in one transaction
            self.execute(f"TRUNCATE {quote(name)}")
        self._used.add(name)
        self._copy(quote(name), table, columns, rows)

    def append(self, table: Table, rows: Sequence[Sequence[Any]]) -> bool:
        """``COPY`` straight into the table inside a savepoint: a key already there rolls the
        savepoint back (a unique violation) and the caller merges instead."""
        target = f"{quote(self.schema)}.{quote(table.name)}"
        self.execute("SAVEPOINT metasync_append")  # inside the batch's transaction
        counted = self.values.checkpoint()
        try:
            self._copy(target, table, table.names, rows)
        except psycopg.errors.UniqueViolation:
            self.execute("ROLLBACK TO SAVEPOINT metasync_append")
            self.values.back_to(counted)
            return False
        self.execute("RELEASE SAVEPOINT metasync_append")
        return True

    def _copy(
        self,
        target: str,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        kinds = {c.name: c.kind for c in table.columns}
        json_at = [i for i, c in enumerate(columns) if kinds[c] == "json"]
        names = ", ".join(quote(c) for c in columns)
        statement = f"COPY {target} ({names}) FROM STDIN".encode()
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in self.values.rows(table, columns, rows):
                copy.write_row(_json_encoded(row, json_at) if json_at else row)

    def commit(self) -> None:
        self.connection.commit()
        self.values.commit()
        self._made_now.clear()
        self._used.clear()

    def rollback(self) -> None:
        self.connection.rollback()
        self.values.rollback()
        self._made -= self._made_now  # tables made in the rolled-back transaction are gone
        self._made_now.clear()
        self._used.clear()

    def close(self) -> None:
        self.connection.close()


def _json_encoded(row: Sequence[Any], positions: Sequence[int]) -> list[Any]:
    out = list(row)
    for i in positions:
        if out[i] is not None:
            out[i] = json.dumps(out[i], sort_keys=True, default=str)
    return out
