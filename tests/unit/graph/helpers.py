"""Shared pieces of the Graph client unit tests (HTTP mocked with ``responses``)."""

from __future__ import annotations

import json
from typing import Any

from metasync.graph import GraphClient, GraphConfig

BASE = "https://graph.test/v21.0"
TOKEN = "EAATESTTOKEN-not-real-0123456789abcdef"
APP_SECRET = "app-secret-for-unit-tests"


class Sleeper:
    """Records the delays a client asked to sleep; never sleeps."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_client(
    *, max_retries: int = 3, rng: float = 0.0, **kwargs: Any
) -> tuple[GraphClient, Sleeper]:
    sleeper = Sleeper()
    config = GraphConfig(
        base_url=BASE, app_secret=APP_SECRET, max_retries=max_retries, retry_base_seconds=1.0
    )
    return GraphClient(TOKEN, config, sleep=sleeper, rng=lambda: rng, **kwargs), sleeper


def error_body(
    code: int, subcode: int | None = None, message: str = "Something failed", **extra: Any
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfG123",
        **extra,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def buc_header(business_id: str, minutes: float, call_count: float = 100) -> dict[str, str]:
    return {
        "X-Business-Use-Case-Usage": json.dumps(
            {
                business_id: [
                    {
                        "type": "ads_management",
                        "call_count": call_count,
                        "total_cputime": 10,
                        "total_time": 10,
                        "estimated_time_to_regain_access": minutes,
                    }
                ]
            }
        )
    }
