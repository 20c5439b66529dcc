"""Whether a batch's keys can be new to a table: the one query that lets a first export append
its rows straight into the table instead of staging and merging them.

PostgreSQL tries the append and lets its unique index refuse a key that is there (a savepoint
takes the failure back). Snowflake and BigQuery enforce no key, and DuckDB aborts the whole
transaction on a failed statement, so there the writer asks first: does the table hold any row
whose key could be one of the batch's? The question is put as a box around the batch's keys:
for each key column, its integer values listed (at most :data:`MAX_LISTED`, else their range),
or the range of its text or dates; a column of another kind (a time) or of mixed types is left
unconstrained. Every key of the batch lies in the box, so an empty box proves that none of them
is in the table: the answer "none" is exact. "Some" can be wrong (a row in the box with another
key, e.g. an earlier batch's day of the same ad): it costs only the merge the batch would have
taken anyway.

For a child table (rows replaced per parent) the box is drawn around the parents' keys: when no
row of any parent is in the table, no child key is there either and no child can be left
orphaned, so the ``DELETE`` of orphans is unnecessary too.

Snowflake and BigQuery need no query at all for a table the export's own connection created
(:class:`~metasync.export.merge.MergeWarehouse`): it started empty, so the keys that connection
appended (:func:`batch_keys`, kept in memory) are all it can hold, until a merge writes keys not
kept there and the table falls back to the query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, NamedTuple

from metasync.export.tables import Table
from metasync.export.values import INTEGER_KINDS

__all__ = ["MAX_LISTED", "Box", "batch_keys", "box", "exists_sql", "probe"]

MAX_LISTED = 1000  # integers listed in the query per column; more: their range
RANGED = {"text": str, "date": date}  # kinds given by their range, as query parameters


class Box(NamedTuple):
    """A ``WHERE`` condition (empty: every row) and its parameters, in order."""

    where: str
    params: list[Any]


def box(
    columns: Sequence[str],
    kinds: Sequence[str],
    keys: Sequence[Sequence[Any]],
    ident: Callable[[str], str],
    placeholder: str,
) -> Box:
    """The box around ``keys`` (tuples of ``columns``' values, whose kinds are ``kinds``)."""
    conditions: list[str] = []
    params: list[Any] = []
    for at, (name, kind) in enumerate(zip(columns, kinds, strict=True)):
        values = {key[at] for key in keys}
        column = ident(name)
        if kind in INTEGER_KINDS and all(type(v) is int for v in values):
            if len(values) <= MAX_LISTED:
                listed = ", ".join(map(str, sorted(values)))
                conditions.append(f"{column} IN ({listed})")
            else:  # integers are safe in SQL text: no parameter needed
                conditions.append(f"{column} BETWEEN {min(values)} AND {max(values)}")
        elif (ranged := RANGED.get(kind)) and all(type(v) is ranged for v in values):
            conditions.append(f"{column} BETWEEN {placeholder} AND {placeholder}")
            params.extend((min(values), max(values)))
        # other kinds (times: time zones bind differently per driver), or mixed types
        # (a value set aside by the checks): unconstrained, which only widens the box
    return Box(" AND ".join(conditions), params)


def probe(
    table: Table,
    rows: Sequence[Sequence[Any]],
    parents: Sequence[Sequence[Any]],
    ident: Callable[[str], str],
    placeholder: str,
) -> Box | None:
    """The box of a batch of ``table``: around its rows' keys, or for a child table around
    its rows' parents and ``parents``; None when the batch has no key at all."""
    keys = batch_keys(table, rows, parents)
    if not keys:
        return None
    columns = table.parent or table.key
    kinds = {c.name: c.kind for c in table.columns}
    return box(columns, [kinds[c] for c in columns], keys, ident, placeholder)


def batch_keys(
    table: Table, rows: Sequence[Sequence[Any]], parents: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """The keys a batch of ``table`` is about: its rows' keys, or for a child table its rows'
    parents and ``parents``."""
    columns = table.parent or table.key
    at = [table.names.index(c) for c in columns]
    keys = [tuple(row[i] for i in at) for row in rows]
    if table.parent:
        keys.extend(tuple(p) for p in parents)
    return keys


def exists_sql(target: str, found: Box) -> str:
    """A query answering (one row, one boolean) whether ``target`` holds a row in ``found``."""
    where = f" WHERE {found.where}" if found.where else ""
    return f"SELECT EXISTS (SELECT 1 FROM {target}{where})"
