"""Destinations as URLs: ``postgresql://user:password@host:5432/database``,
``duckdb:///path/to/file.duckdb``, ``parquet:///path/to/directory``,
``snowflake://account/database?user=...`` and ``bigquery://project/location``.

A URL may hold a password. It is read once, by :func:`parse`, into a :class:`Destination`:
PostgreSQL URLs the way libpq reads them (:mod:`metasync.export.pgurl`: a URL that Python and
libpq read differently is refused), with the ``label`` people see (no password), the ``key``
that names it in records (a digest of what identifies it: user, hosts, ports and database, or
the path; never the password; ``postgres``/``postgresql`` and an omitted port/``:5432`` name
one destination, and so do cloud options in any order) and :meth:`Destination.redact` for
every text that may quote it (a driver's error can echo the connection string). The URL
itself is stored only encrypted.

A destination is a :class:`~metasync.export.warehouse.Warehouse` subclass; :data:`CONNECTORS`
maps each scheme to the function that opens one, so a new destination is one entry there.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from metasync.export.cloudurl import read_cloud_url
from metasync.export.pgurl import PgUrl, UnreadableUrl, parse_postgres
from metasync.export.warehouse import Warehouse

__all__ = [
    "CONNECTORS",
    "Destination",
    "DestinationError",
    "check",
    "connect",
    "label",
    "parse",
    "schema_for",
]

PLANNED = ("redshift",)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


class DestinationError(ValueError):
    """A destination URL metasync cannot use; the message names the problem and never shows a
    password (nor any part of the URL that could be one)."""


@dataclass(frozen=True)
class Destination:
    """A destination URL read once: ``scheme``, ``label`` (for people), ``key`` (a digest for
    records), ``path`` (file destinations) and the parsed PostgreSQL options."""

    scheme: str
    url: str = field(repr=False)
    label: str
    key: str
    path: Path | None = None
    postgres: PgUrl | None = field(default=None, repr=False)

    def redact(self, text: str) -> str:
        """``text`` without the URL's secrets (see :meth:`PgUrl.redact`)."""
        return self.postgres.redact(text) if self.postgres is not None else text


def _open_postgres(destination: Destination) -> Warehouse:
    from metasync.export.postgres import PostgresWarehouse

    assert destination.postgres is not None
    return PostgresWarehouse(destination.postgres.options, destination.label)


def _open_duckdb(destination: Destination) -> Warehouse:
    from metasync.export.duck import DuckWarehouse

    assert destination.path is not None
    return DuckWarehouse(destination.path, destination.label)


def _open_parquet(destination: Destination) -> Warehouse:
    from metasync.export.duck import ParquetWarehouse

    assert destination.path is not None
    return ParquetWarehouse(destination.path, destination.label)


def _open_snowflake(destination: Destination) -> Warehouse:
    from metasync.export.snowflake import SnowflakeWarehouse

    return SnowflakeWarehouse(destination.url, destination.label)


def _open_bigquery(destination: Destination) -> Warehouse:
    from metasync.export.bigquery import BigQueryWarehouse

    return BigQueryWarehouse(destination.url, destination.label)


# scheme -> the function opening a connection to it (after :func:`parse` read the URL)
CONNECTORS: dict[str, Callable[[Destination], Warehouse]] = {
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
    "duckdb": _open_duckdb,
    "parquet": _open_parquet,
    "snowflake": _open_snowflake,
    "bigquery": _open_bigquery,
}
FILE_SCHEMES = ("duckdb", "parquet")
CLOUD_SCHEMES = ("snowflake", "bigquery")


def parse(url: str) -> Destination:
    """``url`` read, or :class:`DestinationError` naming what is wrong (without the URL's
    text beyond its scheme: the rest may hold a password)."""
    found = _SCHEME.match(url.strip())
    scheme = found.group(1).lower() if found else ""
    if scheme in PLANNED:
        raise DestinationError(
            f"{scheme} is not a metasync destination yet; use postgresql://, duckdb:///, "
            "parquet:///, snowflake:// or bigquery://"
        )
    if scheme not in CONNECTORS:
        raise DestinationError(
            f"unknown destination scheme {scheme or '(none)'!r}: expected "
            "postgresql://user@host/database, duckdb:///path/file.duckdb, "
            "parquet:///path/directory, snowflake://account/database?user=... or "
            "bigquery://project/location"
        )
    if scheme in FILE_SCHEMES:
        path = urlsplit(url).path
        if not path.strip("/"):
            raise DestinationError(f"{scheme} destination {url!r} names no path")
        return Destination(scheme, url, url, _digest(scheme, path), Path(path))
    if scheme in CLOUD_SCHEMES:  # no secret in the URL: it names a file (cloudurl)
        try:
            cloud = read_cloud_url(scheme, url)
        except ValueError as exc:
            raise DestinationError(str(exc)) from None
        return Destination(scheme, cloud.url, cloud.label, _digest(scheme, cloud.identity))
    try:
        postgres = parse_postgres(url)
    except UnreadableUrl as exc:
        raise DestinationError(str(exc)) from None
    key = _digest("postgresql", _postgres_identity(postgres.options))
    return Destination(scheme, url, postgres.label, key, postgres=postgres)


def _postgres_identity(options: dict[str, str]) -> str:
    """User, hosts, ports and database as libpq reads them: one port serves every host after
    it, and an omitted one is 5432 (libpq's default; ``PGPORT`` on the exporting machine is
    assumed unset), so ``postgres://h/d`` and ``postgresql://h:5432/d`` are one destination."""
    hosts = options.get("host", "").split(",")
    ports = options.get("port", "").split(",")
    ports += [ports[-1]] * (len(hosts) - len(ports))
    port = ",".join(p or "5432" for p in ports)
    return json.dumps(
        [options.get("user", ""), options.get("host", ""), port, options.get("dbname", "")]
    )


def _digest(scheme: str, identity: str) -> str:
    return hashlib.sha256(f"{scheme}\x00{identity}".encode()).hexdigest()[:32]


def check(url: str) -> str:
    """The scheme of a usable URL; :class:`DestinationError` naming what is wrong otherwise."""
    return parse(url).scheme


def label(url: str) -> str:
    """``url`` as people see it: no password (see :func:`parse`)."""
    return parse(url).label


def connect(destination: Destination | str) -> Warehouse:
    """An open connection to ``destination``, whose ``redact`` removes the URL's secrets from
    a text. Errors of the driver may quote the URL: the caller redacts them with
    :meth:`Destination.redact`."""
    if isinstance(destination, str):
        destination = parse(destination)
    warehouse = CONNECTORS[destination.scheme](destination)
    warehouse.redact = destination.redact
    return warehouse


def schema_for(tenant_id: str, prefix: str = "facebook_ads") -> str:
    """The tenant's schema: ``<prefix>_<tenant>`` in lower-case letters, digits and ``_``.

    Two tenants never share one: a tenant id that is already such a name of at most 40
    characters is used as it is (so those schemas never change name); any other id is cleaned
    and given hex digits of its SHA-256 to a length of at least 41 characters, which no
    unchanged id has. Two changed ids share a schema only if they clean to the same text and
    their digests share the first ``max(8, 40 - len(clean))`` hex digits (at least 32 bits).
    A changed id's suffix used to be 8 digits whatever the length (``Acme`` and the unchanged
    ``acme_37036cd8`` met): such a tenant's exports move to the longer name once, written there
    in full; its old schema is left as it was, for its owner to drop."""
    clean = re.sub(r"[^a-z0-9_]", "_", tenant_id.lower())[:40]
    if clean == tenant_id:
        return f"{prefix}_{clean}"
    digest = hashlib.sha256(tenant_id.encode()).hexdigest()
    return f"{prefix}_{clean}_{digest[: max(8, 40 - len(clean))]}"
