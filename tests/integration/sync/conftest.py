"""A fresh sandbox world, a test database and Redis prefix, and connections for its users."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from metasync.config import load_settings
from metasync.models import MetaConnection
from metasync.sandbox.server import start_sandbox
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext
from metasync.sync.connections import add_connection
from tests.support.sandbox import Sandbox

WORLD = WorldSize(
    users=2,
    accounts_per_user=2,
    campaigns_per_account=3,
    adsets_per_campaign=2,
    ads_per_adset=2,
    days=10,
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Sandbox]:
    service, info = start_sandbox(tmp_path / "sandbox", seed=21, size=WORLD)
    yield Sandbox(service.url, info)
    service.stop()


@pytest.fixture
def sync_env(
    world: Sandbox, env: dict[str, str], mongo_uri: str, mongo: str, redis_prefix: str
) -> dict[str, str]:
    base = mongo_uri.rstrip("/").split("?")[0]
    return {
        **env,
        "META_GRAPH_URL": world.url,
        "META_APP_ID": world.info["app_id"],
        "META_APP_SECRET": world.info["app_secret"],
        "MONGODB_URI": f"{base}/{mongo}",
        "REDIS_KEY_PREFIX": redis_prefix,
        "META_RETRY_BASE_SECONDS": "0",
    }


@pytest.fixture
def ctx(sync_env: dict[str, str], redis_client: object) -> SyncContext:
    return SyncContext.from_settings(load_settings(sync_env))


@pytest.fixture
def connections(ctx: SyncContext, world: Sandbox) -> list[MetaConnection]:
    """One connection per sandbox user, each its own tenant."""
    return [
        add_connection(ctx, f"tenant-{user['id']}", user["token"]) for user in world.info["users"]
    ]


def tenant_of_account(connections: list[MetaConnection]) -> dict[str, str]:
    return {account: c.tenant_id for c in connections for account in c.ad_account_ids}
