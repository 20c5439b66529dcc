"""BigQuery as a destination:
``bigquery://<project>/<location>[?secret=<file>][&endpoint=<url>]``.

The URL names the project the tenant's datasets live in (each tenant gets its dataset, named as
the other destinations name its schema) and their location (``US``, ``EU``, ``europe-west3``;
queries and loads run there). Credentials are Google's usual ones: ``secret`` names a file in
``WAREHOUSE_SECRETS_DIR`` (:mod:`metasync.export.credentials`) holding a service account's JSON
key; without it, application default credentials (``GOOGLE_APPLICATION_CREDENTIALS``,
the metadata server of a Google Cloud VM, ``gcloud auth application-default login``).
``endpoint`` points the client at another API root (an emulator, a private endpoint); with an
endpoint and no secret the client sends no credentials, as emulators expect. Nothing in the URL
is a secret, and a password-like option is refused (:mod:`metasync.export.cloudurl`).

Tables are Fivetran's, as its BigQuery connector makes them: ids ``INT64``, money ``NUMERIC``
(29 digits before the point, 9 after: rounded half-even to 9 places), exchange rates
``BIGNUMERIC(38, 10)`` (metasync keeps them to 10 places, which ``NUMERIC`` cannot hold), JSON
``JSON``, days ``DATE``, times ``TIMESTAMP`` (UTC), text ``STRING``. NUL characters are removed
from text and counted (:mod:`metasync.export.values`), as for PostgreSQL.

**Loading.** A batch's rows are written as newline-delimited JSON and loaded with a load job
(one per table and batch; free, unlike streaming inserts) into a table of their own in the
hidden dataset ``_metasync_stage_<schema>`` (tables expire after a day, and are dropped when the
batch ends), then merged by key with ``MERGE`` (:mod:`metasync.export.merge`). A fresh table per
load keeps a large export under BigQuery's 1,500 loads per table and day. An empty set is not
loaded: statements read an empty typed subquery instead. The mark is merged from query
parameters (one statement, no load job). A first export's batch whose keys one query proves
new (:mod:`metasync.export.newkeys`; BigQuery enforces no key) is appended with one load job
(``WRITE_APPEND``) straight into its table, as a raw load is, with no stage, ``MERGE`` or
``DELETE`` of orphans. Values are converted a column at a time.

**Fenced by the lease.** Each statement commits on its own (below), so the lease alone cannot
keep an export that lost it from landing a job after another export took over: its job could
overwrite the newer export's rows with older ones, or its mark. So every job is fenced
(:meth:`BigQueryWarehouse.hold`): the lease is renewed (and the export stopped if it was lost)
right before each job is submitted, and each job carries a time limit BigQuery enforces
(``job_timeout_ms``: 80 % of the lease; a job past it is cancelled, and a cancelled statement
or load changes nothing). A job therefore only runs while its export holds the lease. This
assumes the lease's clock (MongoDB's) and BigQuery's run at the same rate, and that the renewal
and the submission take less than the remaining 20 % of the lease.

**Resuming without transactions.** A load job cannot join a BigQuery transaction, and a
statement reads the snapshot its transaction began with, so a batch cannot be loaded and merged
in one. Each statement therefore commits on its own, and :meth:`BigQueryWarehouse.rollback`
undoes nothing. Exactly once still holds, by two properties: (1) every statement of a batch is
idempotent given the batch's rows (a ``MERGE`` changes a key's row only where a value differs,
a version is added only when its content differs from its id's latest, and only the children a
re-read parent no longer has are deleted); (2) the account's mark is the batch's last statement.
A crash (or a failed statement) anywhere before the mark leaves some of the batch's rows merged
and the mark where it was: the next export reads the same rows again (or, for rows the mirror
has rewritten since, their newer versions, numbered later) and merging them again reaches the
same tables, with no duplicate and no lost row; only the counts of that export are lower, as
the rows merged before the crash are found unchanged. A crash after the mark loses nothing.
Assumes one export per tenant and destination at a time (the lease) and no one else writing
the tenant's tables; a reader can see a batch half merged, for the minutes until the next
statement.

**The emulator.** The tests talk to ``bqemulator`` (PyPI) over the REST API. Where it differs
from BigQuery, the export does what is correct on both: tables are created with
``NUMERIC(38, 9)``, BigQuery's ``NUMERIC`` spelled out (the emulator reads a bare ``NUMERIC`` in
DDL as three decimal places); columns are added with ``ADD COLUMN IF NOT EXISTS`` (the emulator's
``INFORMATION_SCHEMA.COLUMNS`` does not list columns added by ``ALTER TABLE``); ``DELETE`` names
its target by an alias (the emulator cannot resolve a column qualified by the project, dataset
and table); loads are JSON, not CSV (the emulator drops CSV rows holding quoted fields), and
uploaded resumably (it refuses the client's multipart upload); rates are staged as text and
cast to ``BIGNUMERIC(38, 10)`` (it cannot load a ``BIGNUMERIC`` and reads a bare one as 5
places).
"""

from __future__ import annotations

import io
import itertools
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import GoogleAuthError
from google.cloud import bigquery
from google.oauth2 import service_account

from metasync.export.bigquery_types import (
    RANGES,
    RATE_TYPE,
    RATES,
    TYPES,
    converter,
    load_type,
    parameter,
)
from metasync.export.cloudurl import read_cloud_url
from metasync.export.credentials import CredentialsError, secret_file
from metasync.export.merge import MergeWarehouse
from metasync.export.sql import quote
from metasync.export.tables import Column, Table
from metasync.export.values import NUL_AND_SURROGATES, Values
from metasync.export.warehouse import MARK_TABLE, Mark, missing_columns

__all__ = ["BigQueryWarehouse", "bigquery_options"]

STAGE_HOURS = 24  # how long a stage table left by a killed export lives
SCOPES = ["https://www.googleapis.com/auth/bigquery"]
TIMEOUT = 600.0  # seconds a statement or load may take
FENCE_SHARE = 0.8  # of the export's lease: a job's own time limit when fenced (see hold)


def bigquery_options(url: str) -> dict[str, Any]:
    """The client's arguments for ``url`` (see :mod:`metasync.export.cloudurl`): ``project``,
    ``location``, ``credentials`` (read from the secret file, anonymous for an endpoint without
    one, None for application default credentials) and ``client_options``; ``ValueError``
    naming what is wrong, never quoting the secret file's content."""
    read = read_cloud_url("bigquery", url)
    endpoint = read.options.get("endpoint")
    credentials: Credentials | None = None
    if read.options.get("secret"):
        path = secret_file(read.options["secret"])
        try:
            credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(path), scopes=SCOPES
            )
        except (GoogleAuthError, ValueError):
            raise CredentialsError(
                f"secret={read.options['secret']!r}: {path} is not a Google credentials file "
                "(a service account's JSON key)"
            ) from None
    elif endpoint:
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    return {
        "project": read.host,
        "location": read.path,
        "credentials": credentials,
        "client_options": ClientOptions(api_endpoint=endpoint) if endpoint else None,
    }


class BigQueryWarehouse(MergeWarehouse):
    types = TYPES
    placeholder = "?"

    def __init__(self, url: str, label: str) -> None:
        super().__init__(label)
        self.values = Values(NUL_AND_SURROGATES, RANGES)
        options = bigquery_options(url)
        self.project, self.location = options["project"], options["location"]
        self.client = bigquery.Client(**options)
        self._run = uuid.uuid4().hex[:12]  # this connection's stage tables
        self._loads = itertools.count()
        self._sources: dict[str, str] = {}  # stage name -> what statements read
        self._loaded: list[str] = []  # stage tables of the open batch, dropped at its end
        self._renew: Callable[[], None] = lambda: None  # the export's lease (see hold)
        self._job_ms = int(TIMEOUT * 1000)  # a job's own time limit, enforced by BigQuery

    # -- names --------------------------------------------------------------------------
    def ident(self, name: str) -> str:
        quote(name)  # checks it
        return f"`{name}`"

    def dataset(self, name: str) -> str:
        return f"`{self.project}`.{self.ident(name)}"

    def target(self, name: str) -> str:
        return f"{self.dataset(self.schema)}.{self.ident(name)}"

    @property
    def stage_dataset(self) -> str:
        """The hidden dataset of this tenant's stage tables (a leading ``_`` hides it in the
        console; :meth:`create_schema` refuses a schema that could be another's stage)."""
        return f"_metasync_stage_{self.schema}"

    def staged(self, name: str) -> str:
        return self._sources[name]

    def column_type(self, column: Column) -> str:
        return RATE_TYPE if column.name in RATES else TYPES[column.kind]

    # -- statements ---------------------------------------------------------------------
    def _job(self, sql: str, params: Sequence[Any] = ()) -> tuple[bigquery.QueryJob, Any]:
        """One query job run to its end: the job and its rows."""
        config = bigquery.QueryJobConfig(query_parameters=list(params), job_timeout_ms=self._job_ms)
        self._renew()  # fenced: see hold
        job = self.client.query(sql, job_config=config, location=self.location)
        return job, job.result(timeout=TIMEOUT)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (``?`` marks a parameter); the rows a DML statement changed."""
        job, _ = self._job(sql, [parameter(None, v) for v in params])
        return int(job.num_dml_affected_rows or 0)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        _, rows = self._job(sql, [parameter(None, v) for v in params])
        return [tuple(row.values()) for row in rows]

    # -- the schema ---------------------------------------------------------------------
    def create_schema(self) -> None:
        quote(self.schema)  # checks it
        if self.schema.startswith("_metasync_stage_"):
            raise ValueError(f"schema {self.schema!r} is a name metasync keeps for stage tables")
        tenant = bigquery.Dataset(f"{self.project}.{self.schema}")
        tenant.location = self.location
        self.client.create_dataset(tenant, exists_ok=True, timeout=TIMEOUT)
        stage = bigquery.Dataset(f"{self.project}.{self.stage_dataset}")
        stage.location = self.location
        stage.default_table_expiration_ms = STAGE_HOURS * 3600 * 1000
        stage.description = f"metasync's stage tables for {self.schema} (loaded, then merged)"
        self.client.create_dataset(stage, exists_ok=True, timeout=TIMEOUT)

    def existing_tables(self) -> set[str]:
        """From the API's list of tables (not ``INFORMATION_SCHEMA``, which may list late)."""
        listed = self.client.list_tables(f"{self.project}.{self.schema}", timeout=TIMEOUT)
        return {t.table_id.lower() for t in listed}

    def present_columns(self) -> set[tuple[str, str]]:
        rows = self.query(
            "SELECT table_name, column_name FROM "
            f"{self.dataset(self.schema)}.INFORMATION_SCHEMA.COLUMNS"
        )
        return {(str(t).lower(), str(c).lower()) for t, c in rows}

    def add_new_columns(self, schema: str) -> None:
        """As for every destination, with ``IF NOT EXISTS``: a column listed late by
        ``INFORMATION_SCHEMA`` is not added twice."""
        present = self.present_columns()
        for table, column in missing_columns(present):
            self.execute(
                f"ALTER TABLE {self.target(table.name)} ADD COLUMN IF NOT EXISTS "
                f"{self.ident(column.name)} {self.column_type(column)}"
            )

    # -- merging ------------------------------------------------------------------------
    def differs(self, left: str, right: str, kind: str) -> str:
        if kind == "json":  # JSON has no equality in BigQuery: compare its canonical text
            return f"TO_JSON_STRING({left}) IS DISTINCT FROM TO_JSON_STRING({right})"
        return f"{left} IS DISTINCT FROM {right}"

    def source(self, table: Table, stage: str) -> str:
        """The stage table as a query with the table's types (rates cast from text)."""
        columns = ", ".join(
            f"CAST({self.ident(c.name)} AS {RATE_TYPE}) AS {self.ident(c.name)}"
            if c.name in RATES
            else self.ident(c.name)
            for c in table.columns
        )
        return f"(SELECT {columns} FROM {self.staged(stage)})"

    def delete_orphans(self, table: Table, stage: str, parents: str) -> str:
        """As :meth:`MergeWarehouse.delete_orphans`, the target named by an alias."""
        q = self.ident
        of_parent = " AND ".join(f"p.{q(n)} = t.{q(n)}" for n in table.parent)
        same_key = " AND ".join(f"s.{q(n)} = t.{q(n)}" for n in table.key)
        return (
            f"DELETE FROM {self.target(table.name)} AS t WHERE EXISTS (SELECT 1 FROM "
            f"{self.staged(parents)} p WHERE {of_parent}) AND NOT EXISTS (SELECT 1 FROM "
            f"{self.source(table, stage)} s WHERE {same_key})"
        )

    def delete_staged_keys(self, table: Table, stage: str) -> str:
        """As :meth:`MergeWarehouse.delete_staged_keys`, the target named by an alias."""
        q = self.ident
        same_key = " AND ".join(f"s.{q(n)} = t.{q(n)}" for n in table.key)
        return (
            f"DELETE FROM {self.target(table.name)} AS t WHERE EXISTS (SELECT 1 FROM "
            f"{self.source(table, stage)} s WHERE {same_key})"
        )

    def stage(
        self, name: str, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Load ``rows`` into a new table of the stage dataset with one load job of
        newline-delimited JSON; no rows: an empty typed subquery, no job."""
        column_of = {c.name: c for c in table.columns}
        fitted = self.values.rows(table, columns, rows)
        if not fitted:
            nulls = ", ".join(
                f"CAST(NULL AS {load_type(column_of[c])}) AS {self.ident(c)}" for c in columns
            )
            self._sources[name] = f"(SELECT {nulls} LIMIT 0)"
            return
        table_id = f"{name}_{self._run}_{next(self._loads)}"
        destination = f"{self.project}.{self.stage_dataset}.{table_id}"
        self._loaded.append(destination)
        config = bigquery.LoadJobConfig(
            schema=[
                bigquery.SchemaField(c, load_type(column_of[c]), mode="NULLABLE") for c in columns
            ],
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
        )
        self._load(destination, table, columns, fitted, config)
        self._sources[name] = f"`{self.project}`.`{self.stage_dataset}`.`{table_id}`"

    def append_rows(self, table: Table, rows: Sequence[Sequence[Any]]) -> None:
        """One load job appending ``rows`` to ``table`` (``WRITE_APPEND``, the table's own
        schema), as atomic as any job. A table with a rate column goes through a stage table
        and an ``INSERT ... SELECT`` (rates are loaded as text: see :data:`RATES`)."""
        if any(c.name in RATES for c in table.columns):
            stage = f"stage_{table.name}"
            self.stage(stage, table, table.names, rows)
            columns = ", ".join(self.ident(n) for n in table.names)
            self.execute(
                f"INSERT INTO {self.target(table.name)} ({columns}) SELECT {columns} FROM "
                f"{self.source(table, stage)}"
            )
            return
        config = bigquery.LoadJobConfig(
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
        )
        destination = f"{self.project}.{self.schema}.{table.name}"
        self._load(destination, table, table.names, rows, config)

    def _load(
        self,
        destination: str,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        config: bigquery.LoadJobConfig,
    ) -> None:
        """One load job of ``rows`` as newline-delimited JSON into ``destination``, run to its
        end (fenced: see :meth:`hold`). Values are converted a column at a time, by a function
        picked once per column (:func:`~metasync.export.bigquery_types.converter`)."""
        column_of = {c.name: c for c in table.columns}
        converted = [
            list(map(converter(column_of[c]), values))
            for c, values in zip(columns, zip(*rows, strict=True), strict=True)
        ]
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        names = list(columns)
        data = "\n".join(
            encode(dict(zip(names, values, strict=True))) for values in zip(*converted, strict=True)
        ).encode("utf-8")
        config.source_format = bigquery.SourceFormat.NEWLINE_DELIMITED_JSON
        config.job_timeout_ms = self._job_ms
        self._renew()
        job = self.client.load_table_from_file(
            io.BytesIO(data),
            destination,
            job_config=config,
            location=self.location,
            timeout=TIMEOUT,
        )
        job.result(timeout=TIMEOUT)

    def hold(self, renew: Callable[[], None], lease_seconds: int) -> None:
        """Fence every job by the export's lease: ``renew`` (which raises when the lease was
        lost) runs before each job is submitted, and each job is given a time limit that
        BigQuery enforces (``job_timeout_ms``) of :data:`FENCE_SHARE` of the lease. A job
        is submitted only while this export holds the lease and ends (done or cancelled by
        BigQuery) before the lease it renewed can run out, so no job of an export that lost
        its lease lands after another export took the lease over."""
        self._renew = renew
        self._job_ms = int(lease_seconds * FENCE_SHARE * 1000)

    def set_mark(self, account_id: str, source: str, mark: Mark, now: datetime) -> None:
        """The account's mark merged from query parameters: the batch's last statement."""
        values = {
            "account_id": account_id,
            "source": source,
            "mark_at": None,
            "mark_id": mark.last_id,
            "updated_at": now,
            "mark_seq": mark.seq,
            "mark_epoch": mark.epoch,
        }
        kinds = {c.name: c.kind for c in MARK_TABLE.columns}
        self._sources["stage_marks"] = "(SELECT {})".format(
            ", ".join(f"@{n} AS {self.ident(n)}" for n in MARK_TABLE.names)
        )
        params = [parameter(n, values[n], kinds[n]) for n in MARK_TABLE.names]
        self._job(self.upsert(MARK_TABLE, "stage_marks"), params)

    # -- the end of a batch -------------------------------------------------------------
    def commit(self) -> None:
        """Every statement committed as it ran: count what was cleaned, drop the stage."""
        self.values.commit()
        self._drop_stage()

    def rollback(self) -> None:
        """Nothing can be undone (see the module's docstring): forget the counts, drop the
        stage."""
        self.values.rollback()
        self._drop_stage()

    def close(self) -> None:
        try:
            self._drop_stage()
        finally:
            self.client.close()  # type: ignore[no-untyped-call]

    def _drop_stage(self) -> None:
        while self._loaded:
            self.client.delete_table(self._loaded.pop(), not_found_ok=True, timeout=TIMEOUT)
        self._sources.clear()
