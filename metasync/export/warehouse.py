"""A destination as the export uses it: one tenant's schema, batches merged in transactions,
and the marks saying how far each account's rows have been exported.

A batch's rows and its marks commit in one transaction of the destination, so an export that
dies at any line resumes from the last committed batch and never writes a row twice (the
marks live in the warehouse itself, table ``_metasync_export_marks``). A mark is a write number
(:mod:`metasync.models.numbering`), never a time: ``mark_seq`` and the last exported id of that
number (empty when all of its rows are exported), and the numbering it was taken in
(``mark_epoch``: a mark of another numbering, or past its last number, is not trusted: its
account is read again from the start, once). A mark an earlier metasync wrote by the
writers' clocks (``mark_at``, no ``mark_seq``) is not trusted either. Rows the mirror removed
are deleted by key (:meth:`Warehouse.delete_keys`) in the batch that carries the account's
``deleted`` mark (:mod:`metasync.export.removed`). Subclasses connect and stage rows their
own fastest way (PostgreSQL ``COPY``; DuckDB a CSV file).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from metasync.export.sql import (
    MARKS,
    create_table,
    delete_orphans,
    insert_versions,
    quote,
    upsert,
)
from metasync.export.tables import TABLES, Column, Table
from metasync.export.values import Values

__all__ = ["Mark", "Warehouse", "mark_of", "mark_row", "missing_columns"]


class Mark(NamedTuple):
    """How far an account's rows of one source are exported: every row numbered below ``seq``,
    and of those numbered ``seq`` the ones with an id up to ``last_id`` (all when empty)."""

    seq: int | None  # None: a mark by the writers' clocks, from an earlier metasync
    last_id: str
    epoch: str = ""  # the account's numbering it was taken in (numbering.Position.epoch)


MARK_TABLE = Table(
    MARKS,
    (
        Column("account_id", "text"),
        Column("source", "text"),
        Column("mark_at", "timestamp"),  # an earlier metasync's mark: the writers' clocks
        Column("mark_id", "text"),
        Column("updated_at", "timestamp"),
        Column("mark_seq", "bigint"),
        Column("mark_epoch", "text"),
    ),
    key=("account_id", "source"),
)


def missing_columns(present: set[tuple[str, str]]) -> list[tuple[Table, Column]]:
    """The (table, column) pairs of metasync's tables (and the marks) that a destination's
    ``present`` (table, column) names lack: columns a later metasync added, to be added empty."""
    return [
        (table, column)
        for table in (*TABLES.values(), MARK_TABLE)
        for column in table.columns
        if (table.name, column.name) not in present
    ]


class Warehouse(ABC):
    """One connection to a destination, inside one tenant's schema."""

    types: Mapping[str, str]
    can_append = False  # whether :meth:`append` writes straight into a table
    placeholder = "%s"  # how the driver marks a query parameter

    def __init__(self, label: str) -> None:
        self.label = label
        self.schema = ""
        self.values = Values()  # text cleaned, rows set aside: each destination its own rules
        self.redact: Callable[[str], str] = lambda text: text  # secrets out (set by connect)

    # -- what each destination provides ---------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the rows it changed."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query; its rows."""

    @abstractmethod
    def stage(
        self, name: str, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """A temporary table ``name`` with ``table``'s types for ``columns``, holding ``rows``."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def after_commit(self, tables: set[str]) -> None:  # noqa: B027 - an optional hook
        """Called after an export committed changes to ``tables`` (files to rewrite)."""

    def changed(self, table: Table) -> None:  # noqa: B027 - an optional hook
        """Called, inside the open transaction, when a load changed rows of ``table``."""

    def hold(self, renew: Callable[[], None], lease_seconds: int) -> None:  # noqa: B027
        """Called once the export holds its lease (``renew`` raises when it was lost): a
        destination whose statements commit one by one (BigQuery) fences them by it."""

    # -- shared ---------------------------------------------------------------------------
    def open_schema(self, schema: str) -> None:
        """Create the tenant's schema, every table and the marks table when missing."""
        self.schema = schema
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        for table in (*TABLES.values(), MARK_TABLE):
            self.execute(create_table(schema, table, self.types))
        self.add_new_columns(schema)
        self.commit()

    def add_new_columns(self, schema: str) -> None:
        """Columns a later metasync added to a table an earlier one created (e.g. the v23-v25
        object fields): added empty, so an existing destination keeps loading."""
        present = {
            (str(table), str(column))
            for table, column in self.query(
                "SELECT table_name, column_name FROM information_schema.columns "
                f"WHERE table_schema = {self.placeholder}",
                (schema,),
            )
        }
        for table, column in missing_columns(present):
            self.execute(
                f"ALTER TABLE {quote(schema)}.{quote(table.name)} ADD COLUMN "
                f"{quote(column.name)} {self.types[column.kind]}"
            )

    def load(
        self,
        table: Table,
        rows: Sequence[Sequence[Any]],
        parents: Sequence[Sequence[Any]] = (),
        fresh: bool = True,
    ) -> int:
        """Merge ``rows`` (in ``table.names`` order) into ``table`` within the open transaction;
        for a child table, ``parents`` are the keys whose children ``rows`` are now. Returns the
        rows added, changed or removed.

        With ``fresh`` (the caller expects new keys: a first export), rows none of whose keys
        the table holds yet are appended straight where the destination can (:meth:`append`);
        otherwise, or when a key is there, they are staged and merged."""
        changed = self._merge(table, rows, parents, fresh)
        if changed:
            self.changed(table)
        return changed

    def _merge(
        self,
        table: Table,
        rows: Sequence[Sequence[Any]],
        parents: Sequence[Sequence[Any]],
        fresh: bool,
    ) -> int:
        if not rows and not parents:
            return 0
        orphans = f"parents_{table.name}"
        if table.parent:  # a parent named twice is harmless: only joined against
            self.stage(orphans, table, table.parent, parents)
        appendable = fresh and self.can_append and not table.versions
        if appendable and table.parent:
            appendable = not self.has_children(table, orphans)  # no orphans can be left behind
        if appendable and self.append(table, rows):  # a key twice fails it: merged below
            return len(rows)
        stage = f"stage_{table.name}"
        self.stage(stage, table, table.names, _unique(table, rows))
        changed = 0
        if table.parent:
            changed = self.execute(delete_orphans(self.schema, table, stage, orphans))
        statement = insert_versions if table.versions else upsert
        return changed + self.execute(statement(self.schema, table, stage))

    def append(self, table: Table, rows: Sequence[Sequence[Any]]) -> bool:
        """Write ``rows`` straight into ``table`` if none of their keys is there; False (and
        nothing written) otherwise, or where the destination has no such path."""
        return False

    def has_children(self, table: Table, parents: str) -> bool:
        """Whether ``table`` holds any row of the parents staged in ``parents`` (a ``COPY``
        and a join: for 50,000 parents a quarter of the time of one query with the keys as
        arrays)."""
        match = " AND ".join(f"p.{quote(n)} = t.{quote(n)}" for n in table.parent)
        found = self.query(
            f"SELECT EXISTS (SELECT 1 FROM {quote(self.schema)}.{quote(table.name)} t "
            f"JOIN {quote(parents)} p ON {match})"
        )
        return bool(found[0][0])

    def marks(self) -> dict[tuple[str, str], Mark]:
        rows = self.query(
            "SELECT account_id, source, mark_seq, mark_id, mark_epoch "
            f"FROM {quote(self.schema)}.{quote(MARKS)}"
        )
        return {(r[0], r[1]): mark_of(r[2:]) for r in rows}

    def set_mark(self, account_id: str, source: str, mark: Mark, now: datetime) -> None:
        self.stage(
            "stage_marks", MARK_TABLE, MARK_TABLE.names, [mark_row(account_id, source, mark, now)]
        )
        self.execute(upsert(self.schema, MARK_TABLE, "stage_marks"))

    def delete_keys(self, table: Table, keys: Sequence[Sequence[Any]]) -> int:
        """Remove the rows of ``table`` whose key (values in ``table.key`` order) is one of
        ``keys``, within the open transaction; returns the rows removed."""
        if not keys:
            return 0
        stage = f"gone_{table.name}"
        self.stage(stage, table, table.key, keys)
        target = f"{quote(self.schema)}.{quote(table.name)}"
        same_key = " AND ".join(f"g.{quote(k)} = {target}.{quote(k)}" for k in table.key)
        removed = self.execute(
            f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {quote(stage)} g WHERE {same_key})"
        )
        if removed:
            self.changed(table)
        return removed


def mark_of(values: Sequence[Any]) -> Mark:
    """A mark from its stored ``mark_seq, mark_id, mark_epoch``."""
    seq, last_id, epoch = values
    return Mark(None if seq is None else int(seq), last_id or "", epoch or "")


def mark_row(account_id: str, source: str, mark: Mark, now: datetime) -> tuple[Any, ...]:
    """``mark`` as a row of the marks table (``MARK_TABLE.names`` order)."""
    return (account_id, source, None, mark.last_id, now, mark.seq, mark.epoch)


def _unique(table: Table, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """The last row per key: a merge statement must not meet one key twice."""
    positions = [table.names.index(k) for k in table.key]
    return list({tuple(row[p] for p in positions): row for row in rows}.values())
