"""The load figure of ``bench.export``, one class per destination: metasync's writer against
the same engine's raw bulk load of the same rows.

Each destination gives the writer a fresh schema (or file) per round, made before the clock
starts, and a raw load of its own kind into a plain table (or file) of the same columns:

- PostgreSQL: ``COPY ... FROM STDIN`` into a table of the same shape and key.
- DuckDB: the rows written as CSV by Python's ``csv`` module, then ``COPY ... FROM`` the file
  into a table of the same shape and key (the fastest way in from Python rows without a
  data-frame library, which metasync does not install).
- Parquet: the same CSV, then one DuckDB statement reading it (``read_csv`` with the table's
  types) and writing the Parquet file.
- Snowflake: the rows as CSV, ``PUT`` to a plain table's stage and ``COPY INTO`` it.
- BigQuery: the rows as newline-delimited JSON, one load job into a plain table.

The writer's time is its ``load`` and ``commit``, and for Parquet the file rewritten after the
commit: everything an export pays for those rows once they are built. For new keys (a first
export) that is the query proving the keys new and a load straight into the table
(:mod:`metasync.export.newkeys`); for restated rows, staging and merging.
Raw loads convert values the simplest way their format takes them (``str`` of a date, a
``Decimal``); the writer's own conversions (rounding money to the destination's scale, cleaning
text) are part of what it is measured on.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb
import psycopg

from metasync.export.destinations import connect
from metasync.export.sql import create_table, literal, quote
from metasync.export.tables import Table

Rows = Sequence[Sequence[Any]]


class LoadBench(ABC):
    """One destination's two sides of the load figure."""

    name: str
    emulated = False  # an emulator: its absolute figures mean little, its ratio does

    def __init__(self, url: str) -> None:
        self.url = url  # what the export and the writer are given
        self._rounds = 0

    @abstractmethod
    def writer_place(self) -> tuple[str, str]:
        """A URL and a schema where the writer's next round starts empty."""

    @abstractmethod
    def raw(self, table: Table, rows: Rows) -> float:
        """Seconds for the engine's raw bulk load of ``rows`` into an empty plain table."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Remove what the rounds made."""

    def writer(self, table: Table, rows: Rows, parents: Rows, restate: bool = False) -> float:
        """Seconds for metasync's writer to load ``rows`` as a first export does (new keys), or
        with ``restate`` into a table already holding every key with other values (the merge
        path of an incremental export: every row updated)."""
        url, schema = self.writer_place()
        warehouse = connect(url)
        try:
            warehouse.open_schema(schema)
            if restate:
                warehouse.load(table, _restated(table, rows), parents)
                warehouse.commit()
                warehouse.after_commit({table.name})
            start = time.perf_counter()
            changed = warehouse.load(table, rows, parents, fresh=not restate)
            warehouse.commit()
            warehouse.after_commit({table.name})
            elapsed = time.perf_counter() - start
        finally:
            warehouse.close()
        if changed != len(rows):
            raise AssertionError(f"{self.name} writer changed {changed} of {len(rows)} rows")
        return elapsed

    def next_round(self) -> int:
        self._rounds += 1
        return self._rounds


def _restated(table: Table, rows: Rows) -> list[tuple[Any, ...]]:
    """``rows`` with other values (spend or value plus one): a restatement of each."""
    at = table.names.index("spend" if "spend" in table.names else "value")
    return [(*r[:at], (r[at] or 0) + 1, *r[at + 1 :]) for r in rows]


def _csv(path: Path, rows: Rows) -> None:
    """``rows`` as CSV the plain way: ``str`` of each value, NULL as an empty field."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


# -- PostgreSQL -------------------------------------------------------------------------------
class PostgresBench(LoadBench):
    name = "postgresql"

    def writer_place(self) -> tuple[str, str]:
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(b"DROP SCHEMA IF EXISTS mine CASCADE")
        return self.url, "mine"

    def raw(self, table: Table, rows: Rows) -> float:
        with psycopg.connect(self.url, autocommit=True) as con:
            con.execute(b"DROP SCHEMA IF EXISTS raw CASCADE")
            con.execute(b"CREATE SCHEMA raw")
            con.execute(create_table("raw", table, _postgres_types()).encode())
        columns = ", ".join(quote(c) for c in table.names)
        start = time.perf_counter()
        with psycopg.connect(self.url) as con, con.cursor() as cursor:
            with cursor.copy(
                f"COPY raw.{quote(table.name)} ({columns}) FROM STDIN".encode()
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            con.commit()
        return time.perf_counter() - start


def _postgres_types() -> dict[str, str]:
    from metasync.export.postgres import TYPES

    return dict(TYPES)


def postgres_database(admin_url: str) -> tuple[str, str]:
    """A scratch database on ``admin_url``'s server: its name and URL."""
    name = f"bench_export_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    parts = urlsplit(admin_url)
    return name, urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def drop_postgres_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


# -- DuckDB and Parquet -----------------------------------------------------------------------
class DuckBench(LoadBench):
    name = "duckdb"

    def __init__(self, url: str, folder: Path) -> None:
        super().__init__(url)
        self.folder = folder

    def writer_place(self) -> tuple[str, str]:
        return f"duckdb://{self.folder}/mine_{self.next_round()}.duckdb", "mine"

    def raw(self, table: Table, rows: Rows) -> float:
        from metasync.export.duck import TYPES

        path = self.folder / f"raw_{self.next_round()}.duckdb"
        with duckdb.connect(str(path)) as con:
            con.execute(create_table("main", table, TYPES))
            file = self.folder / "raw.csv"
            start = time.perf_counter()
            _csv(file, rows)
            con.execute(
                f"COPY {quote(table.name)} FROM {literal(str(file))} (FORMAT CSV, HEADER false)"
            )
            elapsed = time.perf_counter() - start
        path.unlink()
        return elapsed


class ParquetBench(LoadBench):
    name = "parquet"

    def __init__(self, url: str, folder: Path) -> None:
        super().__init__(url)
        self.folder = folder

    def writer_place(self) -> tuple[str, str]:
        return f"parquet://{self.folder}/mine_{self.next_round()}", "mine"

    def raw(self, table: Table, rows: Rows) -> float:
        from metasync.export.duck import TYPES

        file = self.folder / "raw.csv"
        target = self.folder / f"raw_{self.next_round()}.parquet"
        columns = ", ".join(f"{literal(c.name)}: {literal(TYPES[c.kind])}" for c in table.columns)
        with duckdb.connect() as con:
            start = time.perf_counter()
            _csv(file, rows)
            con.execute(
                f"COPY (SELECT * FROM read_csv({literal(str(file))}, header = false, "
                f"columns = {{{columns}}})) TO {literal(str(target))} (FORMAT PARQUET)"
            )
            elapsed = time.perf_counter() - start
        target.unlink()
        return elapsed


# -- Snowflake (fakesnow) ---------------------------------------------------------------------
class SnowflakeBench(LoadBench):
    name = "snowflake"
    emulated = True

    def __init__(self, url: str, folder: Path) -> None:
        super().__init__(url)
        self.folder = folder

    def writer_place(self) -> tuple[str, str]:
        return self.url, f"mine_{self.next_round()}"

    def raw(self, table: Table, rows: Rows) -> float:
        import snowflake.connector

        from metasync.export.snowflake import TYPES, snowflake_options

        name = f"RAW_{table.name.upper()}_{self.next_round()}"
        columns = ", ".join(f'"{c.name.upper()}" {TYPES[c.kind]}' for c in table.columns)
        con = snowflake.connector.connect(
            **snowflake_options(self.url),
            autocommit=False,
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        )
        try:
            cursor = con.cursor()
            cursor.execute("CREATE SCHEMA IF NOT EXISTS RAW")
            cursor.execute("USE SCHEMA RAW")
            cursor.execute(f"CREATE TABLE {name} ({columns})")
            con.commit()
            file = self.folder / f"{name.lower()}.csv"
            start = time.perf_counter()
            _csv(file, rows)
            cursor.execute(f"PUT 'file://{file}' @%{name} AUTO_COMPRESS = TRUE")
            cursor.execute(
                f"COPY INTO {name} FROM @%{name} FILE_FORMAT = (TYPE = CSV "
                "FIELD_OPTIONALLY_ENCLOSED_BY = '\"' EMPTY_FIELD_AS_NULL = TRUE) PURGE = TRUE"
            )
            con.commit()
            elapsed = time.perf_counter() - start
            file.unlink()
            cursor.execute(f"DROP TABLE {name}")
            con.commit()
        finally:
            con.close()
        return elapsed


# -- BigQuery (bqemulator) --------------------------------------------------------------------
class BigQueryBench(LoadBench):
    name = "bigquery"
    emulated = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        from google.cloud import bigquery

        from metasync.export.bigquery import bigquery_options

        self.client = bigquery.Client(**bigquery_options(url))
        self.project = self.client.project

    def writer_place(self) -> tuple[str, str]:
        return self.url, f"mine_{self.next_round()}"

    def raw(self, table: Table, rows: Rows) -> float:
        from google.cloud import bigquery

        from metasync.export.bigquery_types import LOADED

        self.client.create_dataset(f"{self.project}.raw", exists_ok=True)
        destination = f"{self.project}.raw.{table.name}_{self.next_round()}"
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            schema=[bigquery.SchemaField(c.name, LOADED[c.kind]) for c in table.columns],
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        )
        names = table.names
        start = time.perf_counter()
        data = "\n".join(
            json.dumps(dict(zip(names, row, strict=True)), default=str) for row in rows
        ).encode()
        job = self.client.load_table_from_file(io.BytesIO(data), destination, job_config=config)
        job.result()
        elapsed = time.perf_counter() - start
        self.client.delete_table(destination, not_found_ok=True)
        return elapsed

    def close(self) -> None:
        """Delete every dataset of the project: the rounds' and the export's."""
        for dataset in self.client.list_datasets():
            self.client.delete_dataset(dataset.reference, delete_contents=True, not_found_ok=True)
        self.client.close()  # type: ignore[no-untyped-call]
