"""The SQL every destination shares: a table's DDL and the statements that merge a staged
batch into it (see :mod:`metasync.export.tables` for the three ways rows arrive).

Both PostgreSQL and DuckDB take ``INSERT ... ON CONFLICT ... DO UPDATE ... WHERE`` and
``IS DISTINCT FROM``, so one text serves both; each destination maps the column kinds to its
types. Identifiers are checked (letters, digits and ``_``) before they are quoted into SQL;
strings such as paths are quoted as literals (:func:`literal`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from metasync.export.tables import Table

__all__ = [
    "MARKS",
    "VOLATILE",
    "create_table",
    "delete_orphans",
    "insert_versions",
    "literal",
    "quote",
    "upsert",
]

MARKS = "_metasync_export_marks"
# stamps that move on every read: written with a change, never a reason for one
VOLATILE = frozenset({"_fivetran_synced", "fetched_at"})
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def quote(name: str) -> str:
    """``name`` as a quoted identifier; refuses anything but lower-case letters, digits, _."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a valid warehouse identifier")
    return f'"{name}"'


def literal(text: str) -> str:
    """``text`` as a SQL string literal (a path may hold ``'``)."""
    return "'" + text.replace("'", "''") + "'"


def create_table(schema: str, table: Table, types: Mapping[str, str]) -> str:
    columns = ", ".join(f"{quote(c.name)} {types[c.kind]}" for c in table.columns)
    key = ", ".join(quote(k) for k in table.key)
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table.name)} "
        f"({columns}, PRIMARY KEY ({key}))"
    )


def _cols(table: Table) -> str:
    return ", ".join(quote(n) for n in table.names)


def upsert(schema: str, table: Table, stage: str) -> str:
    """Stage rows into the table: new keys inserted, known keys updated only when a value
    differs (the volatile stamps ride along with a change)."""
    target = f"{quote(schema)}.{quote(table.name)}"
    others = [n for n in table.names if n not in table.key]
    compared = [n for n in others if n not in VOLATILE]
    sets = ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in others)
    differs = " OR ".join(
        f"{target}.{quote(n)} IS DISTINCT FROM EXCLUDED.{quote(n)}" for n in compared
    )
    conflict = ", ".join(quote(k) for k in table.key)
    action = f"DO UPDATE SET {sets} WHERE {differs}" if compared else "DO NOTHING"
    return (
        f"INSERT INTO {target} ({_cols(table)}) SELECT {_cols(table)} FROM {quote(stage)} "
        f"ON CONFLICT ({conflict}) {action}"
    )


def insert_versions(schema: str, table: Table, stage: str) -> str:
    """Add a staged row when its content differs from its id's latest row (or it is new)."""
    target = f"{quote(schema)}.{quote(table.name)}"
    return (
        f"INSERT INTO {target} ({_cols(table)}) SELECT {_cols(table)} FROM {quote(stage)} s "
        f"WHERE s._metasync_version IS DISTINCT FROM (SELECT l._metasync_version FROM {target} l "
        f"WHERE l.id = s.id ORDER BY l._fivetran_synced DESC LIMIT 1)"
    )


def delete_orphans(schema: str, table: Table, stage: str, parents: str) -> str:
    """Remove the children of re-read parents that the new read no longer has."""
    target = f"{quote(schema)}.{quote(table.name)}"
    of_parent = " AND ".join(f"p.{quote(n)} = {target}.{quote(n)}" for n in table.parent)
    same_key = " AND ".join(f"s.{quote(n)} = {target}.{quote(n)}" for n in table.key)
    return (
        f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {quote(parents)} p WHERE {of_parent}) "
        f"AND NOT EXISTS (SELECT 1 FROM {quote(stage)} s WHERE {same_key})"
    )
