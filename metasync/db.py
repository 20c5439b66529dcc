"""MongoDB connection per process.

PyMongo's client is not fork-safe: a client created before ``fork()`` must not be used in the
child. :func:`connect` therefore creates the client lazily (``connect=False``: no socket is
opened until the first operation) and records the pid it was made in; calling it again in a
forked child (Celery's ``worker_process_init``) drops the inherited client and makes a new one.
Nothing connects at import time.
"""

from __future__ import annotations

import os
from typing import Any

import mongoengine
from mongoengine.connection import DEFAULT_CONNECTION_NAME, get_db
from pymongo.database import Database
from pymongo.uri_parser import parse_uri

from metasync.models import ALL_DOCUMENTS
from metasync.upgrades import apply_upgrades

__all__ = ["connect", "database", "disconnect", "ensure_indexes"]

DEFAULT_DATABASE = "metasync"
_connected_pid: int | None = None


def connect(uri: str, *, database_name: str | None = None, timeout_ms: int = 10_000) -> None:
    """Register the default mongoengine connection for this process.

    The database is ``database_name``, else the one named in ``uri``, else ``metasync``.
    Safe to call again (the previous client is closed), and after ``fork()``.
    """
    global _connected_pid
    name = database_name or parse_uri(uri).get("database") or DEFAULT_DATABASE
    disconnect()
    mongoengine.connect(
        db=name,
        host=uri,
        alias=DEFAULT_CONNECTION_NAME,
        tz_aware=True,
        connect=False,
        serverSelectionTimeoutMS=timeout_ms,
        uuidRepresentation="standard",
    )
    _connected_pid = os.getpid()


def disconnect() -> None:
    """Close this process's client, if any (an inherited one is dropped without closing)."""
    global _connected_pid
    if _connected_pid is not None and _connected_pid != os.getpid():
        # Inherited across fork: closing would touch the parent's sockets. Forget the client;
        # mongoengine.disconnect() below still detaches the collections cached on documents.
        from mongoengine import connection as me_connection

        me_connection._connections.pop(DEFAULT_CONNECTION_NAME, None)
    mongoengine.disconnect(alias=DEFAULT_CONNECTION_NAME)
    _connected_pid = None


def database() -> Database[Any]:
    """The pymongo database of the default connection."""
    found: Database[Any] = get_db(DEFAULT_CONNECTION_NAME)
    return found


# Bookkeeping that expires (``RUN_RETENTION_DAYS``): collection -> the time it is measured from.
# A running sync has no ``finished_at`` and is never removed under a running worker.
RETENTION_FIELDS = {
    "sync_runs": "finished_at",
    "report_runs": "updated_at",
    "webhook_events": "received_at",
    "queued_subtasks": "created_at",
    "run_plans": "created_at",  # only a run that was abandoned leaves any behind
    "export_runs": "started_at",
}


def ensure_indexes(retention_days: int | None = None) -> None:
    """Create every declared index (unique natural keys included), and with ``retention_days``
    the TTL indexes that let MongoDB remove old runs, report jobs and webhook events (an
    existing one takes the new retention), then the data upgrades of :mod:`metasync.upgrades`
    this mirror has not had. Idempotent; run at start."""
    for document in ALL_DOCUMENTS:
        document.ensure_indexes()
    if retention_days is not None:
        ensure_retention(retention_days)
    apply_upgrades()


def ensure_retention(days: int) -> None:
    seconds = int(days * 86400)
    db = database()
    for collection, field in RETENTION_FIELDS.items():
        existing = {i["name"]: i for i in db[collection].list_indexes()}.get("retention")
        if existing is None:
            db[collection].create_index(field, name="retention", expireAfterSeconds=seconds)
        elif existing.get("expireAfterSeconds") != seconds:
            db.command(
                "collMod", collection, index={"name": "retention", "expireAfterSeconds": seconds}
            )
