"""Export tests: a synced sandbox world (``postgres_url`` is in tests/conftest.py)."""

from __future__ import annotations

import pytest

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
    return _sync(ctx, connections)


@pytest.fixture
def synced_first(ctx: SyncContext, connections: list[MetaConnection]) -> list[MetaConnection]:
    """The first tenant alone, synced like ``synced`` (for tests of one tenant: half the
    setup)."""
    return _sync(ctx, connections[:1])


def _sync(ctx: SyncContext, connections: list[MetaConnection]) -> list[MetaConnection]:
    for connection in connections:
        set_enabled(connection.tenant_id, "country", True)
        set_enabled(connection.tenant_id, "region", True)
        run_inline(ctx, str(connection.pk))
        run = perf(ctx, connection)
        assert run.status == "succeeded", run.errors
    return connections
