"""Export tests: a synced sandbox world (``postgres_url`` is in tests/conftest.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from metasync.config import get_settings
from metasync.models import MetaConnection
from metasync.reports.store import set_enabled
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext, run_inline
from tests.support.inline import perf
from tests.support.small_world import quick_reports_env, small_world


@pytest.fixture
def world_size() -> WorldSize:
    return small_world(users=2)


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return quick_reports_env(sync_env)


@pytest.fixture
def synced(ctx: SyncContext, connections: list[MetaConnection]) -> list[MetaConnection]:
    """Every tenant's objects, daily rows and its country and region reports, synced."""
    return sync_tenants(ctx, connections)


@pytest.fixture
def synced_first(ctx: SyncContext, connections: list[MetaConnection]) -> list[MetaConnection]:
    """The first tenant alone, synced like ``synced`` (for tests of one tenant: half the
    setup)."""
    return sync_tenants(ctx, connections[:1])


def sync_tenants(ctx: SyncContext, connections: list[MetaConnection]) -> list[MetaConnection]:
    for connection in connections:
        set_enabled(connection.tenant_id, "country", True)
        set_enabled(connection.tenant_id, "region", True)
        run_inline(ctx, str(connection.pk))
        run = perf(ctx, connection)
        assert run.status == "succeeded", run.errors
    return connections


# -- the cloud warehouses' emulators (started by scripts/warehouse-emulators) ----------------
FAKESNOW = os.environ.get("FAKESNOW_URL", "http://127.0.0.1:64616")
BIGQUERY_EMULATOR = os.environ.get("BIGQUERY_EMULATOR_URL", "http://127.0.0.1:9050")


@pytest.fixture
def warehouse_secrets(
    tmp_path: Path, sync_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A ``WAREHOUSE_SECRETS_DIR`` of this test's, in the settings the export reads."""
    folder = tmp_path / "warehouse-secrets"
    folder.mkdir()
    for name, value in {**sync_env, "WAREHOUSE_SECRETS_DIR": str(folder)}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@pytest.fixture
def snowflake_url(warehouse_secrets: Path) -> str:
    """A database of its own on the fakesnow server, as a ``snowflake://`` URL. A server that
    does not answer fails the test: scripts/warehouse-emulators starts one."""
    endpoint = urlsplit(FAKESNOW)
    (warehouse_secrets / "snowflake").write_text("fakesnow-accepts-any-password\n")
    database = f"EXPORT_{uuid.uuid4().hex[:12].upper()}"
    with snowflake_admin() as admin:
        admin.cursor().execute(f"CREATE DATABASE {database}")
    return (  # fakesnow has no DROP DATABASE: the database lives as long as the server
        f"snowflake://fakesnow/{database}?user=metasync&secret=snowflake"
        f"&host={endpoint.hostname}&port={endpoint.port}&protocol={endpoint.scheme}"
    )


def snowflake_admin(database: str | None = None) -> Any:
    """A connection to the fakesnow server (any user and password are accepted)."""
    import snowflake.connector

    endpoint = urlsplit(FAKESNOW)
    return snowflake.connector.connect(
        user="metasync",
        password="fakesnow",
        account="fakesnow",
        database=database,
        host=endpoint.hostname,
        port=endpoint.port,
        protocol=endpoint.scheme,
        session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        login_timeout=10,
        network_timeout=60,
    )


@pytest.fixture
def bigquery_url(warehouse_secrets: Path) -> Iterator[str]:
    """A project of its own on the bqemulator server, as a ``bigquery://`` URL with its
    endpoint and no secret (anonymous, as the emulator expects). A server that does not answer
    fails the test: scripts/warehouse-emulators starts one. Its datasets are dropped after."""
    try:
        requests.get(f"{BIGQUERY_EMULATOR}/healthz", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        pytest.fail(
            f"no BigQuery emulator answers at {BIGQUERY_EMULATOR} ({type(exc).__name__}): "
            "run scripts/warehouse-emulators"
        )
    project = f"export-{uuid.uuid4().hex[:12]}"
    client = bigquery_admin(project)
    yield f"bigquery://{project}/US?endpoint={BIGQUERY_EMULATOR}"
    for dataset in client.list_datasets():
        client.delete_dataset(dataset.reference, delete_contents=True, not_found_ok=True)
    client.close()


def bigquery_admin(project: str) -> Any:
    """A client of the emulator's ``project`` (no credentials: the emulator takes none)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),
        location="US",
        client_options=ClientOptions(api_endpoint=BIGQUERY_EMULATOR),
    )
