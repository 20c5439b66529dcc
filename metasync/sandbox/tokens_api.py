"""The sandbox's token endpoints and checks: authentication of every call, token exchange and
``debug_token``, as Meta's "Access Tokens" and "Debug Token" references describe them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from metasync.sandbox.errors import GraphError
from metasync.sandbox.state import SandboxState, TokenRecord

__all__ = ["authenticate", "debug_token", "exchange"]


def authenticate(state: SandboxState, token: str | None, params: Mapping[str, Any]) -> TokenRecord:
    """The caller's token record, as Meta checks it: present, known, ``appsecret_proof`` (when
    the app requires it or one is sent), not expired, data access not expired."""
    if not token:
        raise GraphError(400, 104, "An access token is required to request this resource.")
    record = state.tokens.get(token)
    if record is None:
        raise GraphError(
            400, 190, "Invalid OAuth access token - Cannot parse access token", subcode=467
        )
    secret = state.config.app_secret
    proof = params.get("appsecret_proof")
    if secret is not None and (proof or state.config.require_appsecret_proof):
        expected = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not proof:
            state.counters.proof["missing"] += 1
            raise GraphError(
                400,
                100,
                "API calls from the server require an appsecret_proof argument",
                error_type="GraphMethodException",
            )
        if not hmac.compare_digest(str(proof), expected):
            state.counters.proof["invalid"] += 1
            raise GraphError(
                400,
                100,
                "Invalid appsecret_proof provided in the API argument",
                error_type="GraphMethodException",
            )
        state.counters.proof["valid"] += 1
    record.calls += 1
    limit = state.faults.token_expire_after_calls
    if limit is not None and record.calls > limit:
        record.expires_at = min(record.expires_at, datetime.now(UTC))
    now = datetime.now(UTC)
    if record.expires_at <= now:
        raise GraphError(
            400,
            190,
            "Error validating access token: Session has expired on "
            f"{record.expires_at:%A, %d-%b-%y %H:%M:%S} UTC. The current time is "
            f"{now:%A, %d-%b-%y %H:%M:%S} UTC.",
            subcode=463,
        )
    if record.data_access_expires_at <= now:
        # Meta's "Data Access Expiration": the token is valid, its data access is not
        raise GraphError(
            400,
            190,
            "Error validating access token: Data access for this app has expired. The "
            "person must grant the app access again.",
        )
    return record


def exchange(state: SandboxState, params: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /oauth/access_token?grant_type=fb_exchange_token``: a fresh long-lived token."""
    if params.get("grant_type") != "fb_exchange_token":
        raise GraphError(
            400,
            100,
            "(#100) grant_type must be fb_exchange_token",
            error_type="GraphMethodException",
        )
    if params.get("client_id") != state.config.app_id or (
        state.config.app_secret is not None
        and params.get("client_secret") != state.config.app_secret
    ):
        raise GraphError(400, 1, "Error validating client secret.", error_type="OAuthException")
    record = state.tokens.get(str(params.get("fb_exchange_token", "")))
    if record is None:
        raise GraphError(
            400, 190, "Invalid OAuth access token - Cannot parse access token", subcode=467
        )
    if record.expires_at <= datetime.now(UTC):  # an expired token cannot be exchanged
        raise GraphError(
            400, 190, "Error validating access token: Session has expired", subcode=463
        )
    fresh = state.issue_token(record.user_id, "ll", record.data_access_expires_at)
    expires_in = int((fresh.expires_at - datetime.now(UTC)).total_seconds())
    return {"access_token": fresh.token, "token_type": "bearer", "expires_in": expires_in}


def debug_token(
    state: SandboxState, token: str | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    """``GET /debug_token`` with the app token: what Meta knows of ``input_token``."""
    app_token = f"{state.config.app_id}|{state.config.app_secret}"
    if token != app_token:
        raise GraphError(400, 190, "Invalid OAuth access token signature.", subcode=467)
    record = state.tokens.get(str(params.get("input_token", "")))
    if record is None:
        return {
            "data": {
                "is_valid": False,
                "error": {
                    "code": 190,
                    "subcode": 467,
                    "message": "Invalid OAuth access token.",
                },
            }
        }
    valid = record.expires_at > datetime.now(UTC)
    data: dict[str, Any] = {
        "app_id": state.config.app_id,
        "type": "USER",
        "application": "metasync sandbox",
        "is_valid": valid,
        "expires_at": int(record.expires_at.timestamp()),
        "data_access_expires_at": int(record.data_access_expires_at.timestamp()),
        "scopes": sorted(record.scopes),
        "user_id": record.user_id,
    }
    if not valid:
        data["error"] = {"code": 190, "subcode": 463, "message": "Session has expired"}
    return {"data": data}
