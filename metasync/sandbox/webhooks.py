"""Signed webhook deliveries from the sandbox, shaped like Meta's ad-account notifications."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import requests

__all__ = ["deliver", "notification", "sign"]


def sign(app_secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` value: ``sha256=`` + hex HMAC-SHA256(app secret, raw body)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def notification(account_id: str, field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "ad_account",
        "entry": [
            {
                "id": account_id,
                "time": int(time.time()),
                "changes": [{"field": field, "value": value}],
            }
        ],
    }


def deliver(
    callback_url: str,
    payload: dict[str, Any],
    app_secret: str | None,
    *,
    times: int = 1,
    timeout: float = 10.0,
) -> list[int]:
    """POST ``payload`` to ``callback_url`` ``times`` times (Meta re-delivers); status codes.

    A delivery that fails to connect is reported as status 0.
    """
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if app_secret:
        headers["X-Hub-Signature-256"] = sign(app_secret, body)
        headers["X-Hub-Signature"] = (
            "sha1=" + hmac.new(app_secret.encode(), body, hashlib.sha1).hexdigest()
        )
    statuses = []
    for _ in range(times):
        try:
            statuses.append(
                requests.post(callback_url, data=body, headers=headers, timeout=timeout).status_code
            )
        except requests.RequestException:
            statuses.append(0)
    return statuses
