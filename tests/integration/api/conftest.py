"""Fixtures of the console and API tests: the web app in-process on real MongoDB and Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from metasync.config import load_settings
from metasync.console.auth import hash_password
from metasync.webhooks.app import create_app
from tests.integration.test_cli import with_database
from tests.support.api_mirror import TenantMirror, build_tenant

PASSWORD = "a long enough password"


@pytest.fixture
def web_env(env: dict[str, str], mongo_uri: str, mongo: str, redis_prefix: str) -> dict[str, str]:
    return {
        **env,
        "MONGODB_URI": with_database(mongo_uri, mongo),
        "REDIS_KEY_PREFIX": redis_prefix,
        "META_APP_VERIFY_TOKEN": "verify",
        "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}",
    }


@pytest.fixture
def make_client(
    web_env: dict[str, str], redis_client: redis.Redis
) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**extra: str) -> TestClient:
        app = create_app(
            load_settings({**web_env, **extra}), lambda c, k: None, redis_client,
            connect_db=False, request_sync=lambda c, k: "req-1", refresh_token=lambda c: "req-2",
        )  # fmt: skip
        client = TestClient(app).__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def requested() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def api_settings() -> dict[str, str]:
    """Settings a test of the API overrides (none by default)."""
    return {}


@pytest.fixture
def api(
    env: dict[str, str],
    mongo_uri: str,
    mongo: str,
    redis_prefix: str,
    redis_client: redis.Redis,
    requested: list[tuple[str, dict[str, Any]]],
    api_settings: dict[str, str],
) -> Iterator[TestClient]:
    web_env = {
        **api_settings,
        **env,
        "MONGODB_URI": with_database(mongo_uri, mongo),
        "REDIS_KEY_PREFIX": redis_prefix,
        "META_APP_VERIFY_TOKEN": "verify",
    }

    def request_sync(connection_id: str, kwargs: dict[str, Any]) -> str:
        requested.append((connection_id, kwargs))
        return f"asked-{len(requested)}"

    app = create_app(
        load_settings(web_env), lambda c, k: None, redis_client, connect_db=False,
        request_sync=request_sync,
    )  # fmt: skip
    with TestClient(app) as client:
        yield client


@pytest.fixture
def tenants(mongo: str) -> tuple[TenantMirror, TenantMirror]:
    return build_tenant("acme", 1), build_tenant("globex", 2)
