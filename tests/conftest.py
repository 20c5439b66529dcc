"""Fixtures with real services: each test gets its own MongoDB database and Redis key prefix."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from metasync import db
from metasync.config import Settings, load_settings
from metasync.crypto import TokenCipher
from tests.services import find_or_start_mongo, find_or_start_redis

TEST_APP_ID = "1234567890"
TEST_APP_SECRET = "sandbox-app-secret-for-tests"


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
