"""Meta's ``X-Ad-Api-Version-Warning``: a sync whose configured version expired, answered by a
sandbox that upgrades such calls (the app's auto-upgrade setting), leaves the warning on the
connection's record, in ``/metrics`` and in the built-in notifier's problems."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import requests

from metasync.alerts import current_problems
from metasync.api.metrics import MirrorCollector
from metasync.config import load_settings
from metasync.graph.client import appsecret_proof
from metasync.graph.version_warning import VERSION_WARNING_WINDOW, recent_version_warning
from metasync.keys import RedisKeys
from metasync.models import MetaConnection, RunStatus, SyncRun, utcnow
from metasync.sandbox.server import start_sandbox
from metasync.sync import SyncContext, run_inline
from tests.integration.sync.test_sync_cli import metasync
from tests.support.sandbox import Sandbox

EXPIRED = "v25.0"  # the sandbox plays a day after 2027-02-23: v26.0 is the oldest it serves


@pytest.fixture
def world(tmp_path: Path, world_seed: int) -> Iterator[Sandbox]:
    from metasync.sandbox.world import WorldSize

    size = WorldSize(1, 1, 1, 1, 1, 3)
    service, info = start_sandbox(
        tmp_path / "sandbox",
        seed=world_seed,
        size=size,
        api_versions=("v26.0", "v27.0"),
        auto_upgrade_versions=True,
    )
    yield Sandbox(service.url, info)
    service.stop()


@pytest.fixture
def ctx(sync_env: dict[str, str], redis_client: redis.Redis) -> SyncContext:
    return SyncContext.from_settings(load_settings({**sync_env, "META_API_VERSION": EXPIRED}))


def test_the_sandbox_upgrades_an_expired_version_and_says_so(world: Sandbox) -> None:
    token = world.info["users"][0]["token"]
    proof = {"appsecret_proof": appsecret_proof(world.info["app_secret"], token)}
    answer = requests.get(
        f"{world.url}/{EXPIRED}/me",
        params=proof,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert EXPIRED in answer.headers["X-Ad-Api-Version-Warning"]
    assert answer.headers["facebook-api-version"] == "v26.0"
    live = requests.get(
        f"{world.url}/v26.0/me",
        params=proof,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert live.status_code == 200
    assert "X-Ad-Api-Version-Warning" not in live.headers


def test_an_upgraded_sync_is_recorded_measured_and_alerted(
    ctx: SyncContext,
    connections: list[MetaConnection],
    redis_client: redis.Redis,
    sync_env: dict[str, str],
) -> None:
    (connection,) = connections
    assert connection.api_version_warning is None
    started = run_inline(ctx, str(connection.pk))
    assert SyncRun.objects.get(pk=started.run_id).status == RunStatus.SUCCEEDED
    connection.reload()
    assert connection.api_version_warning and EXPIRED in connection.api_version_warning
    assert connection.api_version_served == "v26.0"
    assert connection.api_version_warning_at is not None

    families = {f.name: f for f in MirrorCollector(redis_client, ctx.keys).collect()}
    samples = families["metasync_api_version_warning"].samples
    assert [(s.labels, s.value) for s in samples] == [
        (
            {
                "tenant": connection.tenant_id,
                "connection": str(connection.pk),
                "served_version": "v26.0",
            },
            1,
        )
    ]
    problems = current_problems(redis_client, RedisKeys(ctx.settings.REDIS_KEY_PREFIX), utcnow())
    line = problems[f"api-version:{connection.pk}"]
    assert "expired API version" in line and EXPIRED in line

    # what the operator reads: `metasync connections show` and the console's account page
    shown = metasync(["connections", "show", str(connection.pk)], sync_env)
    assert shown.returncode == 0, shown.stderr
    assert "api_version_served: v26.0" in shown.stdout
    assert "Meta upgraded calls to v26.0" in (recent_version_warning(connection, utcnow()) or "")
    later = utcnow() + VERSION_WARNING_WINDOW + timedelta(minutes=1)
    assert recent_version_warning(connection, later) is None  # a day without: cleared
