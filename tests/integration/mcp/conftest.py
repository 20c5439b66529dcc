"""Fixtures of the MCP server's tests: a sandbox world synced into MongoDB for two tenants,
the web app served by a real HTTP server, and API keys of each tenant."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from metasync.api.keys import create_key
from metasync.config import load_settings
from metasync.console.auth import hash_password
from metasync.models import MetaConnection
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext, run_inline
from metasync.webhooks.app import create_app
from tests.support.inline import perf
from tests.support.mcp_client import serving
from tests.support.sandbox import Sandbox
from tests.support.small_world import quick_reports_env, small_world

PASSWORD = "a long enough password"
DAYS = 6  # enough for two periods of explain_change, few enough to sync two tenants quickly


@pytest.fixture
def world_size() -> WorldSize:
    return small_world(users=2, days=DAYS)


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {
        **quick_reports_env(sync_env, days=DAYS),
        "META_APP_VERIFY_TOKEN": "verify",
        "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}",
    }


@dataclass(frozen=True)
class Tenants:
    """Two synced tenants and keys: ``reader`` (read), ``proposer`` (read, propose) of the
    first, ``other`` (read) of the second."""

    first: MetaConnection
    second: MetaConnection
    reader: str
    proposer: str
    other: str


@pytest.fixture
def keys_only(mongo: str) -> Tenants:
    """Keys of two tenants with nothing synced: for what needs no data."""
    fake = MetaConnection(tenant_id="acme"), MetaConnection(tenant_id="globex")
    return Tenants(
        *fake,
        create_key("acme", "assistant")[1],
        create_key("acme", "assistant", scopes=["propose"])[1],
        create_key("globex", "other")[1],
    )


@pytest.fixture
def tenants(ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]) -> Tenants:
    """Both users' accounts synced (objects and performance), then the sandbox's counters
    reset, so a test counts only the Graph calls that come after."""
    for connection in connections:
        assert run_inline(ctx, str(connection.pk)).run_id
        assert perf(ctx, connection).status == "succeeded"
    world.control("POST", "counters")
    first, second = connections
    return Tenants(
        first,
        second,
        create_key(first.tenant_id, "assistant")[1],
        create_key(first.tenant_id, "assistant", scopes=["propose"])[1],
        create_key(second.tenant_id, "other")[1],
    )


@pytest.fixture
def web_url(sync_env: dict[str, str], redis_client: redis.Redis) -> Iterator[str]:
    """``metasync web``'s app on a real HTTP server (uvicorn, in a thread of this process,
    on this test's database)."""
    app = create_app(
        load_settings(sync_env),
        lambda c, k: None,
        redis_client,
        connect_db=False,
        request_sync=lambda c, k: "req",
        refresh_token=lambda c: "req",
    )
    with serving(app) as url:
        yield url
