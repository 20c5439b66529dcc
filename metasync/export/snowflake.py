"""Snowflake as a destination:
``snowflake://<account>/<database>?user=<user>&secret=<file>[&warehouse=&role=&host=&port=&protocol=]``.

The URL names the account (``xy12345.eu-west-1``, or an organisation's ``org-account``), the
database (each tenant gets its schema in it) and the user; ``secret`` names a file in
``WAREHOUSE_SECRETS_DIR`` (:mod:`metasync.export.credentials`) holding the user's password or,
for key-pair authentication, an unencrypted PKCS#8 private key (a file starting
``-----BEGIN PRIVATE KEY-----``). ``host``, ``port`` and ``protocol`` point the connector at
another endpoint (an emulator, a private link); the connector's defaults reach the real service.
A password in the URL is refused.

Tables are Fivetran's, in upper case as Fivetran's Snowflake connector makes them: ids
``NUMBER(38,0)``, money ``NUMBER(38,10)`` (rounded half-even to 10 places, as in DuckDB), JSON
``VARIANT``, times ``TIMESTAMP_TZ`` in UTC. A batch is written as CSV files, ``PUT`` to each
session-temporary stage table's own stage, loaded with ``COPY INTO`` and merged by key
(:mod:`metasync.export.merge`), all in one transaction with the batch's mark. Snowflake commits
a transaction implicitly before DDL, so the stage tables are created once per session before
the first batch, and emptied with ``DELETE`` (DML) within each. A first export's batch whose
keys one query proves new (:mod:`metasync.export.newkeys`) is instead ``PUT`` and copied
straight into its table, as a raw load is (:meth:`SnowflakeWarehouse.append_rows`), in the
same transaction.

Waits are bounded by the export's lease (``EXPORT_LEASE_SECONDS``): the session's
``LOCK_TIMEOUT`` and ``STATEMENT_TIMEOUT_IN_SECONDS`` are set to it
(:func:`session_parameters`), instead of Snowflake's 12 hours and two days. A lock left by a
killed export's session, or a statement that would outlive the lease, fails the export, which
is retried and resumes from its last committed batch.

Values are checked as on BigQuery (:class:`~metasync.export.values.Values`): NUL and lone
surrogates are removed from text and counted (as on PostgreSQL and BigQuery, so one mirror gives
the same names in each), and a row is set aside and named when an integer column holds text or
a number beyond 64 bits, or money has more than 28 digits before the point. ``NUMBER(38,0)``
would take an id of up to 38 digits, but Fivetran's schema, its dbt package and every other
destination hold ids as 64-bit integers: checking the same bound everywhere keeps one mirror's
export the same rows in each.

Staged times and JSON are text cast in the ``MERGE`` (``CAST(... AS TIMESTAMP_TZ)``,
``PARSE_JSON``): correct on Snowflake, and it avoids two gaps of the ``fakesnow`` emulator the
tests use (``COPY`` of a NULL into a ``TIMESTAMP_TZ`` column; ``MERGE`` reading a function of a
source column). Two more gaps there: fakesnow reads a NULL ``TIMESTAMP_TZ`` back as 1970-01-01
(stored NULL, shown wrong), and it keeps a closed session's transaction open, so
:meth:`SnowflakeWarehouse.close` rolls back first. A process killed outright leaves its session
to Snowflake, which aborts the session's open transaction when the session ends or expires; until
then the next export waits on its locks, at most ``LOCK_TIMEOUT`` (the lease).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import snowflake.connector

from metasync.config import get_settings
from metasync.export.cloudurl import read_cloud_url
from metasync.export.credentials import secret_file
from metasync.export.merge import MergeWarehouse, text_value
from metasync.export.sql import quote
from metasync.export.tables import TABLES, Table
from metasync.export.values import INTEGER_RANGES, NUL_AND_SURROGATES, Values
from metasync.export.warehouse import MARK_TABLE

__all__ = ["SnowflakeWarehouse", "session_parameters", "snowflake_options"]

TYPES = {
    "text": "VARCHAR",
    "bigint": "NUMBER(38,0)",
    "integer": "NUMBER(38,0)",
    "double": "FLOAT",
    "numeric": "NUMBER(38,10)",
    "date": "DATE",
    "timestamp": "TIMESTAMP_TZ",
    "boolean": "BOOLEAN",
    "json": "VARIANT",
}
SCALE = 10
STAGED = {**TYPES, "timestamp": "VARCHAR", "json": "VARCHAR"}  # cast in the MERGE
# ids as 64-bit integers (see the module's docstring); NUMBER(38,10): 28 digits before the point
RANGES: dict[str, tuple[int | Decimal, int | Decimal]] = {
    "bigint": INTEGER_RANGES["bigint"],
    "integer": INTEGER_RANGES["bigint"],  # NUMBER(38,0), as bigint
    "numeric": (Decimal("-1e28") + Decimal("1e-10"), Decimal("1e28") - Decimal("1e-10")),
}
FORMAT = (
    "FILE_FORMAT = (TYPE = CSV FIELD_OPTIONALLY_ENCLOSED_BY = '\"' NULL_IF = () "
    "EMPTY_FIELD_AS_NULL = TRUE ESCAPE_UNENCLOSED_FIELD = NONE)"  # UTF-8: the default
)


def snowflake_options(url: str) -> dict[str, Any]:
    """The connector's arguments for ``url`` (see :mod:`metasync.export.cloudurl`), the secret
    read from its file; ``ValueError`` naming what is wrong."""
    read = read_cloud_url("snowflake", url)
    query = read.options
    options: dict[str, Any] = {"account": read.host, "user": query["user"], "database": read.path}
    path = secret_file(query["secret"])
    if path.read_bytes().lstrip().startswith(b"-----BEGIN"):
        options["private_key_file"] = str(path)
    else:
        options["password"] = path.read_text(encoding="utf-8").strip()
    for name in ("warehouse", "role", "host", "protocol"):
        if query.get(name):
            options[name] = query[name]
    if query.get("port"):
        options["port"] = int(query["port"])
    return options


class SnowflakeWarehouse(MergeWarehouse):
    types = TYPES

    def __init__(self, url: str, label: str) -> None:
        super().__init__(label)
        self.values = Values(NUL_AND_SURROGATES, RANGES)
        options = snowflake_options(url)
        self.database = options["database"]
        self.connection = snowflake.connector.connect(
            **options,
            autocommit=False,
            session_parameters=session_parameters(get_settings().EXPORT_LEASE_SECONDS),
            login_timeout=30,
            network_timeout=600,
        )
        self._scratch = tempfile.TemporaryDirectory(prefix="metasync-snowflake-")
        self._files = itertools.count()

    def ident(self, name: str) -> str:
        quote(name)  # checks it
        return f'"{name.upper()}"'

    def staged(self, name: str) -> str:
        return self.ident(name)  # session-temporary, in the tenant's schema (USE SCHEMA)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, tuple(params) or None)
            return max(cursor.rowcount or 0, 0)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, tuple(params) or None)
            return [tuple(row) for row in cursor.fetchall()]

    def create_schema(self) -> None:
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.ident(self.schema)}")
        self.execute(f"USE SCHEMA {self.ident(self.schema)}")

    def open_schema(self, schema: str) -> None:
        super().open_schema(schema)
        for table in (*TABLES.values(), MARK_TABLE):  # DDL: before any batch's transaction
            self._create_stage(f"stage_{table.name}", table, table.names)
            if table.parent:
                self._create_stage(f"parents_{table.name}", table, table.parent)
        self._create_stage("stage_marks", MARK_TABLE, MARK_TABLE.names)
        self.commit()

    def _create_stage(self, name: str, table: Table, columns: Sequence[str]) -> None:
        kinds = {c.name: c.kind for c in table.columns}
        spec = ", ".join(f"{self.ident(c)} {STAGED[kinds[c]]}" for c in columns)
        self.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.ident(name)} ({spec})")

    def existing_tables(self) -> set[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (self.schema.upper(),),
        )
        return {str(r[0]).lower() for r in rows}

    def present_columns(self) -> set[tuple[str, str]]:
        rows = self.query(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s",
            (self.schema.upper(),),
        )
        return {(str(t).lower(), str(c).lower()) for t, c in rows}

    def cast(self, expression: str, kind: str) -> str:
        if kind == "timestamp":
            return f"CAST({expression} AS TIMESTAMP_TZ)"
        if kind == "json":
            return f"PARSE_JSON({expression})"
        return expression

    def stage(
        self, name: str, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Empty the stage table, then ``PUT`` the rows fit to be written
        (:class:`~metasync.export.values.Values`) as one CSV file and ``COPY`` it in
        (``FORCE``: a file with the content of one loaded before is loaded again)."""
        self.execute(f"DELETE FROM {self.ident(name)}")
        rows = self.values.rows(table, columns, rows)
        if rows:
            self._copy(name, f"{name}_{next(self._files)}", table, columns, rows)

    def append_rows(self, table: Table, rows: Sequence[Sequence[Any]]) -> None:
        """``PUT`` and ``COPY`` straight into ``table`` through its own table stage, under one
        file name per table (``OVERWRITE``: a file a killed export left there is replaced
        before the next ``COPY`` reads the stage, so no file is loaded twice; the lease keeps
        a second export out). A table with ``VARIANT`` columns goes through its stage table
        and an ``INSERT ... SELECT`` with ``PARSE_JSON``: a CSV field would be loaded into a
        ``VARIANT`` as a string, not as the JSON it spells."""
        if any(c.kind == "json" for c in table.columns):
            stage = f"stage_{table.name}"
            self.stage(stage, table, table.names, rows)
            columns = ", ".join(self.ident(n) for n in table.names)
            self.execute(
                f"INSERT INTO {self.target(table.name)} ({columns}) SELECT {columns} FROM "
                f"{self.source(table, stage)}"
            )
            return
        self._copy(table.name, f"metasync_{table.name}", table, table.names, rows)

    def _copy(
        self,
        name: str,
        file_name: str,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> None:
        """``rows`` written as the CSV file ``file_name``, ``PUT`` to the stage of table
        ``name`` and copied into it."""
        kinds = {c.name: c.kind for c in table.columns}
        fields = [
            list(map(FIELDS.get(kinds[c], _any_field(kinds[c])), values))
            for c, values in zip(columns, zip(*rows, strict=True), strict=True)
        ]
        file = Path(self._scratch.name) / f"{file_name}.csv"
        with file.open("w", encoding="utf-8", newline="") as handle:
            handle.writelines(line + "\n" for line in map(",".join, zip(*fields, strict=True)))
        stage = f"@{_table_stage(name)}"
        self.execute(f"PUT 'file://{file}' {stage} OVERWRITE = TRUE AUTO_COMPRESS = TRUE")
        file.unlink()
        self.execute(
            f"COPY INTO {self.ident(name)} FROM {stage} {FORMAT} PURGE = TRUE FORCE = TRUE"
        )

    def commit(self) -> None:
        self.connection.commit()
        self.values.commit()

    def rollback(self) -> None:
        self.connection.rollback()
        self.values.rollback()

    def close(self) -> None:
        """Roll back what is not committed, then end the session: Snowflake ends a closed
        session's transaction itself, fakesnow does not (its locks would block the next
        export)."""
        try:
            self.connection.rollback()
            self.connection.close()
        finally:
            self._scratch.cleanup()


def _table_stage(name: str) -> str:
    """The stage of the temporary table ``name``: ``"%NAME"``."""
    quote(name)
    return f'"%{name.upper()}"'


def session_parameters(lease_seconds: int) -> dict[str, Any]:
    """The session's parameters: no telemetry, and waits bounded by the export's lease. A
    statement running, or waiting for a lock, longer than the lease is cancelled: by then the
    lease may be another export's (Snowflake's defaults are 12 hours for a lock and two days
    for a statement, so a session left by a killed export could hold the next one that
    long)."""
    return {
        "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False,
        "LOCK_TIMEOUT": lease_seconds,
        "STATEMENT_TIMEOUT_IN_SECONDS": lease_seconds,
    }


def _any_field(kind: str) -> Callable[[Any], str]:
    """One CSV field of a column of ``kind``: NULL as an empty field, every value quoted (so
    an empty string stays one, and ``\\N`` stays text), as :func:`text_value` spells it."""

    def field(value: Any) -> str:
        text = text_value(value, kind, SCALE)
        if text is None:
            return ""
        return '"' + text.replace('"', '""') + '"'

    return field


def _text_field(value: Any) -> str:
    if type(value) is str:
        return '"' + value.replace('"', '""') + '"'
    return _ANY_TEXT(value)


_ANY_TEXT = _any_field("text")


def _plain_field(exact: type, kind: str) -> Callable[[Any], str]:
    """:func:`_any_field` for a column whose values are mostly of type ``exact``, whose
    ``str`` is what :func:`text_value` gives and holds no quote (an integer, a date)."""
    other = _any_field(kind)

    def field(value: Any) -> str:
        if type(value) is exact:
            return '"' + str(value) + '"'
        return other(value)

    return field


_MONEY_STEP = Decimal(1).scaleb(-SCALE)
_ANY_MONEY = _any_field("numeric")
_ANY_TIME = _any_field("timestamp")


def _money_field(value: Any) -> str:
    """Money rounded half-even to :data:`SCALE` places, as :func:`text_value` rounds it."""
    if type(value) is Decimal:
        return '"' + format(value.quantize(_MONEY_STEP), "f") + '"'
    return _ANY_MONEY(value)


def _time_field(value: Any) -> str:
    """A time in UTC as ISO 8601, as :func:`text_value` spells it."""
    if type(value) is datetime and value.tzinfo is UTC:
        return '"' + value.isoformat() + '"'
    return _ANY_TIME(value)


# the usual type of a kind converted without :func:`text_value`'s checks; anything else (and
# JSON) through it
FIELDS: dict[str, Callable[[Any], str]] = {
    "text": _text_field,
    "bigint": _plain_field(int, "bigint"),
    "integer": _plain_field(int, "integer"),
    "double": _plain_field(float, "double"),
    "date": _plain_field(date, "date"),
    "numeric": _money_field,
    "timestamp": _time_field,
}
