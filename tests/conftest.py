"""Fixtures with real services: each test gets its own MongoDB database and Redis key prefix."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis

from metasync import db
from metasync.config import Settings, load_settings
from metasync.crypto import TokenCipher
from metasync.models import MetaConnection
from metasync.sandbox.server import start_sandbox
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext
from metasync.sync.connections import add_connection
from tests.services import find_or_start_mongo, find_or_start_redis
from tests.support.sandbox import Sandbox

TEST_APP_ID = "1234567890"
TEST_APP_SECRET = "sandbox-app-secret-for-tests"
POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def mongo_uri(services_dir: Path) -> Iterator[str]:
    uri, service = find_or_start_mongo(services_dir)
    yield uri
    if service is not None:
        service.stop()


@pytest.fixture(scope="session")
def redis_url(services_dir: Path) -> Iterator[str]:
    url, service = find_or_start_redis(services_dir)
    yield url
    if service is not None:
        service.stop()


@pytest.fixture
def mongo(mongo_uri: str) -> Iterator[str]:
    """Connects mongoengine to a fresh database (dropped afterwards); yields its name."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    db.connect(mongo_uri, database_name=name)
    db.ensure_indexes()
    yield name
    db.database().client.drop_database(name)
    db.disconnect()


@pytest.fixture
def redis_prefix() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def redis_client(redis_url: str, redis_prefix: str) -> Iterator[redis.Redis]:
    """A client on the test Redis; every key under this test's prefix is deleted afterwards."""
    client = redis.Redis.from_url(redis_url)
    yield client
    keys = list(client.scan_iter(match=f"{redis_prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def env(mongo_uri: str, redis_url: str) -> dict[str, str]:
    """A complete, valid environment for :func:`load_settings`."""
    return {
        "META_APP_ID": TEST_APP_ID,
        "META_APP_SECRET": TEST_APP_SECRET,
        "MONGODB_URI": mongo_uri,
        "REDIS_URL": redis_url,
        "ENCRYPTION_KEY": secrets.token_hex(32),
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env)


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(secrets.token_hex(32))


# -- a sandbox world and connections to it (tests override world_seed / world_size) ----------


@pytest.fixture
def world_seed() -> int:
    return 21


@pytest.fixture
def world_size() -> WorldSize:
    return WorldSize(
        users=2,
        accounts_per_user=2,
        campaigns_per_account=3,
        adsets_per_campaign=2,
        ads_per_adset=2,
        days=10,
    )


@pytest.fixture
def world(tmp_path: Path, world_seed: int, world_size: WorldSize) -> Iterator[Sandbox]:
    """A fresh sandbox server of its own (tests may change its world)."""
    service, info = start_sandbox(tmp_path / "sandbox", seed=world_seed, size=world_size)
    yield Sandbox(service.url, info)
    service.stop()


@pytest.fixture
def sync_env(
    world: Sandbox, env: dict[str, str], mongo_uri: str, mongo: str, redis_prefix: str
) -> dict[str, str]:
    """Settings pointing at the world, this test's database and this test's Redis prefix."""
    base = mongo_uri.rstrip("/").split("?")[0]
    return {
        **env,
        "META_GRAPH_URL": world.url,
        "META_ADS_API_URL": world.info["ads_api_url"],
        "META_APP_ID": world.info["app_id"],
        "META_APP_SECRET": world.info["app_secret"],
        "MONGODB_URI": f"{base}/{mongo}",
        "REDIS_KEY_PREFIX": redis_prefix,
        "META_RETRY_BASE_SECONDS": "0.1",
    }


@pytest.fixture
def ctx(sync_env: dict[str, str], redis_client: redis.Redis) -> SyncContext:
    return SyncContext.from_settings(load_settings(sync_env))


@pytest.fixture
def connections(ctx: SyncContext, world: Sandbox) -> list[MetaConnection]:
    """One connection per sandbox user, each its own tenant."""
    return [
        add_connection(ctx, f"tenant-{user['id']}", user["token"]) for user in world.info["users"]
    ]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own on the PostgreSQL server (dropped afterwards). A missing server
    fails the test: `scripts/services` starts one."""
    name = f"export_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    parts = urlsplit(POSTGRES_URL)
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
