"""A real sandbox server per test session (and fresh ones for tests that change the world)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from metasync.graph import GraphClient, GraphConfig
from metasync.sandbox.server import start_sandbox
from metasync.sandbox.world import WorldSize

SMALL = WorldSize(
    users=2,
    accounts_per_user=2,
    campaigns_per_account=4,
    adsets_per_campaign=2,
    ads_per_adset=2,
    days=20,
)


class Sandbox:
    """A running sandbox: its URL, its /info, and helpers for the control API."""

    def __init__(self, url: str, info: dict[str, Any]) -> None:
        self.url = url
        self.info = info
        self.graph_url = info["graph_url"]
        self.http = requests.Session()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def truth(self) -> dict[str, Any]:
        return self.control("GET", "ground-truth")  # type: ignore[no-any-return]

    def user(self, index: int = 0) -> dict[str, Any]:
        return self.info["users"][index]  # type: ignore[no-any-return]

    def client(self, index: int = 0, **kwargs: Any) -> GraphClient:
        config = GraphConfig(
            base_url=self.graph_url, app_secret=self.info["app_secret"], max_retries=0
        )
        return GraphClient(self.user(index)["token"], config, sleep=lambda _: None, **kwargs)

    def get(self, path: str, token: str | None = None, **params: Any) -> requests.Response:
        """A raw Graph GET (token in the query, as the official SDK sends it, with its proof)."""
        import hashlib
        import hmac

        token = token or self.user()["token"]
        proof = hmac.new(
            self.info["app_secret"].encode(), token.encode(), hashlib.sha256
        ).hexdigest()
        return self.http.get(
            f"{self.graph_url}/{path}",
            timeout=30,
            params={"access_token": token, "appsecret_proof": proof, **params},
        )


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    service, info = start_sandbox(tmp_path_factory.mktemp("sandbox"), seed=3, size=SMALL)
    yield Sandbox(service.url, info)
    service.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox with default faults, budgets and zeroed counters."""
    sandbox_server.control("PUT", "faults", {})
    sandbox_server.control(
        "PUT",
        "budgets",
        {
            "app": 1_000_000,
            "user": 100_000,
            "account": 100_000,
            "business_use_case": 100_000,
            "window_seconds": 3600,
        },
    )
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
