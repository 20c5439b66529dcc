"""A real sandbox server per test session (and fresh ones for tests that change the world)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from metasync.sandbox.server import start_sandbox
from metasync.sandbox.world import WorldSize
from tests.support.sandbox import Sandbox

SMALL = WorldSize(
    users=2,
    accounts_per_user=2,
    campaigns_per_account=4,
    adsets_per_campaign=2,
    ads_per_adset=2,
    days=20,
)


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    service, info = start_sandbox(tmp_path_factory.mktemp("sandbox"), seed=3, size=SMALL)
    yield Sandbox(service.url, info)
    service.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox with default faults, Meta's budgets (limited tier) counted afresh,
    and zeroed counters."""
    sandbox_server.control("PUT", "faults", {})
    sandbox_server.control("PUT", "budgets", {})
    sandbox_server.control("POST", "counters")
    yield sandbox_server
    sandbox_server.control("PUT", "faults", {})


@pytest.fixture
def fresh_sandbox(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    """Start a sandbox of its own (for tests that change the world)."""
    started = []

    def start(**kwargs: Any) -> Sandbox:
        service, info = start_sandbox(tmp_path, **{"seed": 5, "size": SMALL, **kwargs})
        started.append(service)
        return Sandbox(service.url, info)

    yield start
    for service in started:
        service.stop()
