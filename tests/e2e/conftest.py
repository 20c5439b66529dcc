"""End-to-end: the sandbox, Redis, the MongoDB-wire server and real Celery worker processes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from metasync.config import load_settings
from metasync.models import RunStatus, SyncRun
from metasync.sandbox.world import WorldSize
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
def world_seed() -> int:
    return 31


@pytest.fixture
def world_size() -> WorldSize:
    return WORLD


@pytest.fixture
def workers(sync_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    running = Workers(sync_env, tmp_path, count=2).start()
    yield running
    running.stop()


@pytest.fixture
def celery_client(sync_env: dict[str, str]) -> Celery:
    settings = load_settings(sync_env)
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
