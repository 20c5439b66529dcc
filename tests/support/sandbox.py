"""A running sandbox as the tests see it: its URL, its /info, and control API helpers."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import requests

from metasync.graph import GraphClient, GraphConfig
from metasync.sandbox.server import SandboxControl

__all__ = ["Sandbox"]


class Sandbox(SandboxControl):
    """A running sandbox: its URL, its /info, the control API, and Graph clients of its users."""

    def __init__(self, url: str, info: dict[str, Any]) -> None:
        super().__init__(url, timeout=30)
        self.info = info
        self.graph_url = info["graph_url"]

    def user(self, index: int = 0) -> dict[str, Any]:
        return self.info["users"][index]  # type: ignore[no-any-return]

    def client(self, index: int = 0, **kwargs: Any) -> GraphClient:
        config = GraphConfig(
            base_url=self.graph_url, app_secret=self.info["app_secret"], max_retries=0
        )
        return GraphClient(self.user(index)["token"], config, sleep=lambda _: None, **kwargs)

    def get(
        self, path: str, token: str | None = None, version: str | None = None, **params: Any
    ) -> requests.Response:
        """A raw Graph GET (token in the query, as the official SDK sends it, with its proof);
        ``version`` picks another served API version than the latest."""
        token = token or self.user()["token"]
        base = f"{self.url}/{version}" if version else self.graph_url
        return self.http.get(f"{base}/{path}", timeout=30, params={**self._auth(token), **params})

    def post(self, path: str, token: str | None = None, **params: Any) -> requests.Response:
        """A raw Graph POST, its parameters form-encoded in the body as the SDK sends them."""
        token = token or self.user()["token"]
        return self.http.post(
            f"{self.graph_url}/{path}", timeout=30, data={**self._auth(token), **params}
        )

    def _auth(self, token: str) -> dict[str, str]:
        proof = hmac.new(
            self.info["app_secret"].encode(), token.encode(), hashlib.sha256
        ).hexdigest()
        return {"access_token": token, "appsecret_proof": proof}
