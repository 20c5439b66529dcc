"""End-to-end: the sandbox, Redis, the MongoDB-wire server and real Celery worker processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from metasync.config import load_settings
from metasync.embedded import EmbeddedService, free_port, start_mongo, start_web, wait_for_port
from metasync.models import RunStatus, SyncRun
from metasync.sandbox.world import WorldSize
from tests.support.diagnosis import stuck_runs_report
from tests.support.workers import Workers, client_app, start_beat

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
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, "META_APP_VERIFY_TOKEN": "e2e-verify"}


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[EmbeddedService]:
    """A MongoDB-wire server of the test's own, for tests that stop and restart it."""
    service = start_mongo(tmp_path / "mongo")
    yield service
    service.stop()


@pytest.fixture
def web_url(sync_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``metasync web`` as a real server."""
    web = start_web(sync_env, tmp_path / "web.log")
    yield web.url
    web.stop()


FLOWER_AUTH = ("ops", "3f9c1e7a52d84b06")


@pytest.fixture
def flower_url(sync_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``metasync flower`` against the test broker, behind basic auth (FLOWER_AUTH)."""
    port = free_port()
    with (tmp_path / "flower.log").open("wb") as log:
        flower = subprocess.Popen(
            [sys.executable, "-m", "metasync", "flower", "--port", str(port)],
            env={
                "PATH": os.environ.get("PATH", ""),
                **sync_env,
                "FLOWER_BASIC_AUTH": f"{FLOWER_AUTH[0]}:{FLOWER_AUTH[1]}",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    assert wait_for_port(port, 60, flower)
    time.sleep(2)  # Flower subscribes to the workers' events
    yield f"http://127.0.0.1:{port}"
    flower.terminate()
    flower.wait(15)


@pytest.fixture
def workers(sync_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    running = Workers(sync_env, tmp_path, count=2).start()
    yield running
    running.stop()


@pytest.fixture
def recovery_beat(sync_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Beat, for its check for stalled runs (modules that use it set RUN_RECOVERY_INTERVAL_SECONDS
    and RUN_STALL_SECONDS short, and the sync intervals long)."""
    beat = start_beat(sync_env, tmp_path)
    yield beat
    beat.terminate()
    beat.wait(15)


@pytest.fixture
def celery_client(sync_env: dict[str, str]) -> Celery:
    settings = load_settings(sync_env)
    return client_app(settings.celery_broker_url, settings.REDIS_KEY_PREFIX)


@pytest.fixture
def wait_for_runs(sync_env: dict[str, str], tmp_path: Path) -> Callable[..., list[SyncRun]]:
    """Wait until ``count`` runs matching ``filters`` exist and none is running; when they do
    not, fail with what the runs, the workers' logs and the broker say (see diagnosis)."""

    def wait(count: int, timeout: float = 90.0, **filters: object) -> list[SyncRun]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = list(SyncRun.objects(**filters))
            if len(found) >= count and all(r.status != RunStatus.RUNNING for r in found):
                return found
            time.sleep(0.3)
        left = [(r.pk, r.status, r.pending) for r in SyncRun.objects(**filters)]
        report = stuck_runs_report(sync_env["REDIS_URL"], sync_env["REDIS_KEY_PREFIX"], tmp_path)
        raise AssertionError(f"runs did not finish: {left}\n{report}")

    return wait


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, (
        "chromium and chromedriver are needed (scripts/browser installs them)"
    )
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1500,900"):  # fmt: skip
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()
