"""PostgreSQL as a destination (``postgresql://user:password@host:port/database``).

Batches are staged with ``COPY`` into a temporary table (not WAL-logged, dropped at commit) and
merged by one statement per table. JSON columns are ``jsonb`` (the dbt package unnests
``url_tags`` with ``jsonb_array_elements``); times are ``timestamptz``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from metasync.export.sql import quote
from metasync.export.tables import Table
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

    def __init__(self, url: str, label: str) -> None:
        super().__init__(label)
        self.connection = psycopg.connect(url, autocommit=False)

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
        self.execute(f"DROP TABLE IF EXISTS {quote(name)}")
        self.execute(f"CREATE TEMPORARY TABLE {quote(name)} ({spec}) ON COMMIT DROP")
        json_at = [i for i, c in enumerate(columns) if kinds[c] == "json"]
        with self.connection.cursor() as cursor:
            names = ", ".join(quote(c) for c in columns)
            with cursor.copy(f"COPY {quote(name)} ({names}) FROM STDIN".encode()) as copy:
                for row in rows:
                    copy.write_row(_json_encoded(row, json_at) if json_at else row)

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()

    def close(self) -> None:
        self.connection.close()


def _json_encoded(row: Sequence[Any], positions: Sequence[int]) -> list[Any]:
    out = list(row)
    for i in positions:
        if out[i] is not None:
            out[i] = json.dumps(out[i], sort_keys=True, default=str)
    return out
