"""End-to-end: the sandbox, Redis, the MongoDB-wire server and real Celery worker processes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from metasync.config import load_settings
from metasync.models import MetaConnection, RunStatus, SyncRun
from metasync.sandbox.server import start_sandbox
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext
from metasync.sync.connections import add_connection
from tests.support.sandbox import Sandbox
from tests.support.workers import Workers, client_app

WORLD = WorldSize(
    users=3,
    accounts_per_user=2,
    campaigns_per_account=3,
    adsets_per_campaign=2,
    ads_per_adset=3,
    days=10,
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Sandbox]:
    service, info = start_sandbox(tmp_path / "sandbox", seed=31, size=WORLD)
    yield Sandbox(service.url, info)
    service.stop()


@pytest.fixture
def e2e_env(
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
        "META_RETRY_BASE_SECONDS": "0.1",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def ctx(e2e_env: dict[str, str], redis_client: object) -> SyncContext:
    return SyncContext.from_settings(load_settings(e2e_env))


@pytest.fixture
def connections(ctx: SyncContext, world: Sandbox) -> list[MetaConnection]:
    return [add_connection(ctx, f"tenant-{u['id']}", u["token"]) for u in world.info["users"]]


@pytest.fixture
def workers(e2e_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    running = Workers(e2e_env, tmp_path, count=2).start()
    yield running
    running.stop()


@pytest.fixture
def celery_client(e2e_env: dict[str, str]) -> Celery:
    settings = load_settings(e2e_env)
    return client_app(settings.celery_broker_url, settings.REDIS_KEY_PREFIX)


@pytest.fixture
def wait_for_runs() -> Callable[..., list[SyncRun]]:
    def wait(count: int, timeout: float = 90.0, **filters: object) -> list[SyncRun]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = list(SyncRun.objects(**filters))
            if len(found) >= count and all(r.status != RunStatus.RUNNING for r in found):
                return found
            time.sleep(0.3)
        left = [(r.pk, r.status, r.pending) for r in SyncRun.objects(**filters)]
        raise AssertionError(f"runs did not finish: {left}")

    return wait
