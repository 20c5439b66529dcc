"""Destinations as URLs: ``postgresql://user:password@host:5432/database``,
``duckdb:///path/to/file.duckdb`` and ``parquet:///path/to/directory``.

A URL may hold a password, so it is shown to people only as its :func:`label` (the password
replaced) and stored encrypted. ``bigquery://`` and ``snowflake://`` are recognised and refused
by name: a destination is a :class:`~metasync.export.warehouse.Warehouse` subclass (DDL types,
staging, transactions), which is where such a destination would go.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from metasync.export.warehouse import Warehouse

__all__ = ["DestinationError", "connect", "label", "schema_for"]

SCHEMES = ("postgresql", "postgres", "duckdb", "parquet")
PLANNED = ("bigquery", "snowflake", "redshift")


class DestinationError(ValueError):
    """A destination URL metasync cannot use; the message names the problem."""


def label(url: str) -> str:
    """``url`` with any password replaced by ``***``: safe for logs, runs and the console."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def check(url: str) -> str:
    """The scheme of a usable URL; :class:`DestinationError` naming what is wrong otherwise."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in PLANNED:
        raise DestinationError(
            f"{scheme} is not a metasync destination yet; use postgresql://, duckdb:/// or "
            "parquet:///"
        )
    if scheme not in SCHEMES:
        raise DestinationError(
            f"unknown destination {label(url)!r}: expected postgresql://user@host/database, "
            "duckdb:///path/file.duckdb or parquet:///path/directory"
        )
    if scheme in ("duckdb", "parquet") and not urlsplit(url).path.strip("/"):
        raise DestinationError(f"{scheme} destination {url!r} names no path")
    return scheme


def connect(url: str) -> Warehouse:
    """An open connection to the destination ``url``."""
    scheme = check(url)
    shown = label(url)
    if scheme in ("postgresql", "postgres"):
        from metasync.export.postgres import PostgresWarehouse

        return PostgresWarehouse(url, shown)
    from metasync.export.duck import DuckWarehouse, ParquetWarehouse

    path = Path(urlsplit(url).path)
    return DuckWarehouse(path, shown) if scheme == "duckdb" else ParquetWarehouse(path, shown)


def schema_for(tenant_id: str, prefix: str = "facebook_ads") -> str:
    """The tenant's schema: ``<prefix>_<tenant>`` in lower-case letters, digits and ``_``.
    A tenant id that had to change (other characters, over 40 characters) gets 8 hex digits of
    its digest, so two tenants never share a schema."""
    import hashlib

    clean = re.sub(r"[^a-z0-9_]", "_", tenant_id.lower())[:40]
    if clean != tenant_id:
        clean = f"{clean}_{hashlib.sha256(tenant_id.encode()).hexdigest()[:8]}"
    return f"{prefix}_{clean}"
