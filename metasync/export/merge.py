"""Destinations without ``INSERT ... ON CONFLICT`` (Snowflake, BigQuery): a batch is bulk-loaded
into stage tables (staged files, load jobs) and merged into the tenant's tables by key with
``MERGE``, the versioned tables by an ``INSERT`` of the rows whose content is new, and a parent's
lost children by a ``DELETE``.

Neither destination enforces a key, so a first export's batch (``fresh``) is appended straight
into its table only when one query proves none of its keys is there
(:mod:`metasync.export.newkeys`: then no ``MERGE`` is needed, and for a child table no orphan
can exist), its rows first reduced to the last one per key; otherwise it is merged as any batch.
A table this connection created needs no query: the keys it appended are kept in memory
(for a first export of 250,000 rows, a few tens of MB), and a merge into it stops that.

Every statement of a batch is idempotent given the batch's rows: ``MERGE`` changes a key's row
only where a value differs, a version row is added only when its content differs from its id's
latest, and only children absent from the new read are deleted. The mark is written last. So
where a destination commits a batch and its mark together (Snowflake: one transaction), an
export resumes exactly as on PostgreSQL; where it cannot (see :mod:`metasync.export.bigquery`),
a crash between two statements leaves rows that the next export reads again and merges to the
same result: no duplicate and no lost row, at the cost of re-reading that batch. Assumes one
export per tenant and destination at a time (the lease) and keys that are never NULL.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from metasync.export.newkeys import batch_keys, exists_sql, probe
from metasync.export.sql import VOLATILE, quote
from metasync.export.tables import TABLES, Column, Table
from metasync.export.warehouse import (
    MARK_TABLE,
    Mark,
    Warehouse,
    _unique,
    mark_of,
    mark_row,
    missing_columns,
)

__all__ = ["MergeWarehouse", "text_value"]


class MergeWarehouse(Warehouse):
    """A :class:`Warehouse` whose tables are changed by ``MERGE`` from stage tables."""

    def ident(self, name: str) -> str:
        """``name`` (checked: lower-case letters, digits, ``_``) as the destination quotes it."""
        return quote(name)

    @abstractmethod
    def staged(self, name: str) -> str:
        """How a statement names the stage table ``name``."""

    @abstractmethod
    def present_columns(self) -> set[tuple[str, str]]:
        """``(table, column)`` of every column the tenant's schema has, in lower case."""

    @abstractmethod
    def create_schema(self) -> None: ...

    def target(self, name: str) -> str:
        return f"{self.ident(self.schema)}.{self.ident(name)}"

    def cast(self, expression: str, kind: str) -> str:
        """A staged column as the table's type (stage tables may keep some kinds as text)."""
        return expression

    def differs(self, left: str, right: str, kind: str) -> str:
        return f"{left} IS DISTINCT FROM {right}"

    def column_type(self, column: Column) -> str:
        """``column``'s type in the destination (by its kind, unless a destination says more)."""
        return self.types[column.kind]

    def create_table(self, table: Table) -> str:
        columns = ", ".join(f"{self.ident(c.name)} {self.column_type(c)}" for c in table.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.target(table.name)} ({columns})"

    # -- the schema ---------------------------------------------------------------------
    def open_schema(self, schema: str) -> None:
        self.schema = schema
        self.create_schema()
        before = self.existing_tables()
        for table in (*TABLES.values(), MARK_TABLE):
            self.execute(self.create_table(table))
        # tables made now are empty: the keys this connection appends are all they hold
        self._appended: dict[str, set[tuple[Any, ...]]] = {
            t.name: set() for t in TABLES.values() if t.name not in before
        }
        self.add_new_columns(schema)
        self.commit()

    def add_new_columns(self, schema: str) -> None:
        present = self.present_columns()
        for table, column in missing_columns(present):
            self.execute(
                f"ALTER TABLE {self.target(table.name)} ADD COLUMN "
                f"{self.ident(column.name)} {self.column_type(column)}"
            )

    # -- merging ------------------------------------------------------------------------
    def _merge(
        self,
        table: Table,
        rows: Sequence[Sequence[Any]],
        parents: Sequence[Sequence[Any]],
        fresh: bool,
    ) -> int:
        if not rows and not parents:
            return 0
        if fresh and not table.versions:
            appended = self._append_new(table, rows, parents)
            if appended is not None:
                return appended
        self._appended.pop(table.name, None)  # merged keys are not kept: ask from now on
        orphans = f"parents_{table.name}"
        if table.parent:
            self.stage(orphans, table, table.parent, parents)
        stage = f"stage_{table.name}"
        self.stage(stage, table, table.names, _unique(table, rows))
        changed = self.execute(self.delete_orphans(table, stage, orphans)) if table.parent else 0
        if not rows:
            return changed
        statement = (
            self.insert_versions(table, stage) if table.versions else self.upsert(table, stage)
        )
        return changed + self.execute(statement)

    def _append_new(
        self, table: Table, rows: Sequence[Sequence[Any]], parents: Sequence[Sequence[Any]]
    ) -> int | None:
        """A first export's batch appended straight into ``table`` when one query proves that
        none of its keys (of a child table: none of its parents) is there
        (:mod:`metasync.export.newkeys`): the rows added, the last row of a key kept as a merge
        keeps it. None, with nothing written or counted, when some key may be there: the
        caller stages and merges."""
        unique = _unique(table, rows)
        counted = self.values.checkpoint()
        fitted = self.values.rows(table, table.names, unique)
        keys = batch_keys(table, fitted, parents)
        appended = self._appended.get(table.name)
        if appended is not None:  # made by this connection: no query needed
            present = not appended.isdisjoint(keys)
        else:
            found = probe(table, fitted, parents, self.ident, self.placeholder)
            present = found is not None and bool(
                self.query(exists_sql(self.target(table.name), found), found.params)[0][0]
            )
        if present:
            self.values.back_to(counted)
            return None
        if fitted:
            self.append_rows(table, fitted)
        if appended is not None:
            appended.update(keys)  # a rolled-back batch's stay: more keys only mean a merge
        return len(fitted)

    @abstractmethod
    def existing_tables(self) -> set[str]:
        """The names (lower case) of the tables the tenant's schema holds now."""

    @abstractmethod
    def append_rows(self, table: Table, rows: Sequence[Sequence[Any]]) -> None:
        """Bulk-load ``rows`` (checked by :class:`~metasync.export.values.Values`, one per
        key, none of whose keys ``table`` holds) straight into ``table``."""

    def source(self, table: Table, stage: str) -> str:
        """The stage table as a query with the table's types."""
        kinds = {c.name: c.kind for c in table.columns}
        columns = ", ".join(
            f"{self.cast(self.ident(n), kinds[n])} AS {self.ident(n)}" for n in table.names
        )
        return f"(SELECT {columns} FROM {self.staged(stage)})"

    def upsert(self, table: Table, stage: str) -> str:
        """New keys inserted; known keys updated only where a value differs (the volatile
        stamps ride along with a change)."""
        q = self.ident
        kinds = {c.name: c.kind for c in table.columns}
        others = [n for n in table.names if n not in table.key]
        compared = [n for n in others if n not in VOLATILE]
        on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in table.key)
        matched = ""
        if compared:
            differs = " OR ".join(
                self.differs(f"t.{q(n)}", f"s.{q(n)}", kinds[n]) for n in compared
            )
            sets = ", ".join(f"{q(n)} = s.{q(n)}" for n in others)
            matched = f" WHEN MATCHED AND ({differs}) THEN UPDATE SET {sets}"
        columns = ", ".join(q(n) for n in table.names)
        values = ", ".join(f"s.{q(n)}" for n in table.names)
        return (
            f"MERGE INTO {self.target(table.name)} t USING {self.source(table, stage)} s "
            f"ON {on}{matched} WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
        )

    def insert_versions(self, table: Table, stage: str) -> str:
        """A staged row added when its content differs from its id's latest row (or it is new)."""
        q = self.ident
        columns = ", ".join(q(n) for n in table.names)
        picked = ", ".join(f"s.{q(n)}" for n in table.names)
        latest = (
            f"(SELECT {q('id')}, {q('_metasync_version')}, ROW_NUMBER() OVER (PARTITION BY "
            f"{q('id')} ORDER BY {q('_fivetran_synced')} DESC) AS {q('metasync_n')} "
            f"FROM {self.target(table.name)})"
        )
        return (
            f"INSERT INTO {self.target(table.name)} ({columns}) SELECT {picked} FROM "
            f"{self.source(table, stage)} s LEFT JOIN {latest} l ON l.{q('id')} = s.{q('id')} "
            f"AND l.{q('metasync_n')} = 1 WHERE l.{q('_metasync_version')} IS DISTINCT FROM "
            f"s.{q('_metasync_version')}"
        )

    def delete_orphans(self, table: Table, stage: str, parents: str) -> str:
        """Remove the children of re-read parents that the new read no longer has."""
        q = self.ident
        target = self.target(table.name)
        of_parent = " AND ".join(f"p.{q(n)} = {target}.{q(n)}" for n in table.parent)
        same_key = " AND ".join(f"s.{q(n)} = {target}.{q(n)}" for n in table.key)
        return (
            f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {self.staged(parents)} p WHERE "
            f"{of_parent}) AND NOT EXISTS (SELECT 1 FROM {self.source(table, stage)} s WHERE "
            f"{same_key})"
        )

    # -- rows the mirror removed -------------------------------------------------------------
    def delete_keys(self, table: Table, keys: Sequence[Sequence[Any]]) -> int:
        """Remove the rows of ``table`` whose key is one of ``keys`` (values in ``table.key``
        order): the keys are staged in the table's stage (its other columns empty, so no stage
        table is added) and one ``DELETE`` removes their rows."""
        if not keys:
            return 0
        stage = f"stage_{table.name}"
        at = [table.names.index(k) for k in table.key]
        rows = []
        for key in keys:
            row: list[Any] = [None] * len(table.names)
            for position, value in zip(at, key, strict=True):
                row[position] = value
            rows.append(row)
        self.stage(stage, table, table.names, rows)
        return self.execute(self.delete_staged_keys(table, stage))

    def delete_staged_keys(self, table: Table, stage: str) -> str:
        """The rows of ``table`` whose key is staged in ``stage``, deleted."""
        q = self.ident
        target = self.target(table.name)
        same_key = " AND ".join(f"s.{q(n)} = {target}.{q(n)}" for n in table.key)
        return (
            f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {self.source(table, stage)} s "
            f"WHERE {same_key})"
        )

    # -- marks --------------------------------------------------------------------------
    def marks(self) -> dict[tuple[str, str], Mark]:
        q = self.ident
        rows = self.query(
            f"SELECT {q('account_id')}, {q('source')}, {q('mark_seq')}, {q('mark_id')}, "
            f"{q('mark_epoch')} FROM {self.target(MARK_TABLE.name)}"
        )
        return {(r[0], r[1]): mark_of(r[2:]) for r in rows}

    def set_mark(self, account_id: str, source: str, mark: Mark, now: datetime) -> None:
        row = mark_row(account_id, source, mark, now)
        self.stage("stage_marks", MARK_TABLE, MARK_TABLE.names, [row])
        self.execute(self.upsert(MARK_TABLE, "stage_marks"))


def text_value(value: Any, kind: str, scale: int) -> str | None:
    """A value of a column of ``kind`` as text a bulk load reads back exactly: times in UTC
    ISO 8601 (a naive time is UTC, as the mirror keeps it), money rounded half-even to
    ``scale`` decimal places (the destination's numeric scale), JSON as compact JSON (a JSON
    column's string too); None stays None."""
    if value is None:
        return None
    if kind == "json":
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal(1).scaleb(-scale)), "f")
    if isinstance(value, (date, int, float, str)):
        return str(value) if not isinstance(value, float) else repr(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
