"""Token exchange (short-lived to long-lived) and ``debug_token`` inspection.

Both calls put secrets in the query string, because that is Meta's API; the client redacts them
from every error and log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from metasync.graph.client import GraphClient, GraphConfig
from metasync.graph.errors import MetaAPIError

__all__ = ["ExchangedToken", "TokenInfo", "debug_token", "exchange_token"]


@dataclass(frozen=True)
class ExchangedToken:
    access_token: str = field(repr=False)
    token_type: str
    expires_at: datetime | None  # None: Meta gave no expiry


@dataclass(frozen=True)
class TokenInfo:
    """What ``debug_token`` says of a token. ``expires_at`` None means it never expires."""

    app_id: str | None
    type: str | None
    is_valid: bool
    expires_at: datetime | None
    data_access_expires_at: datetime | None
    scopes: tuple[str, ...]
    user_id: str | None
    error_code: int | None = None
    error_subcode: int | None = None
    error_message: str | None = None


def _timestamp(value: Any) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def exchange_token(
    config: GraphConfig,
    app_id: str,
    short_lived_token: str,
    *,
    now: datetime | None = None,
    client: GraphClient | None = None,
) -> ExchangedToken:
    """Exchange a short-lived user token for a long-lived one (about 60 days).

    An expired token cannot be exchanged: Meta answers 190 (raised as ``TokenError``).
    """
    caller = client or GraphClient(None, config)
    extra = (short_lived_token,)
    try:
        body = caller.get(
            "oauth/access_token",
            {
                "grant_type": "fb_exchange_token",
                "client_id": app_id,
                "client_secret": config.app_secret,
                "fb_exchange_token": short_lived_token,
            },
        ).body
    except MetaAPIError as exc:
        exc.message = caller.redact(exc.message, *extra)
        exc.args = (caller.redact(str(exc), *extra),)
        raise
    if not isinstance(body, dict) or not body.get("access_token"):
        raise MetaAPIError("token exchange answered without an access_token")
    expires_in = str(body.get("expires_in") or "")
    moment = now or datetime.now(UTC)
    expires_at = (
        moment + timedelta(seconds=int(expires_in))
        if str(expires_in or "").isdigit() and int(expires_in) > 0
        else None
    )
    return ExchangedToken(
        str(body["access_token"]), str(body.get("token_type") or "bearer"), expires_at
    )


def debug_token(
    config: GraphConfig, app_id: str, token: str, *, client: GraphClient | None = None
) -> TokenInfo:
    """Inspect ``token`` with the app token (``{app_id}|{app_secret}``)."""
    caller = client or GraphClient(f"{app_id}|{config.app_secret}", config)
    try:
        body = caller.get("debug_token", {"input_token": token}).body
    except MetaAPIError as exc:
        exc.message = caller.redact(exc.message, token)
        exc.args = (caller.redact(str(exc), token),)
        raise
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise MetaAPIError("debug_token answered without data")
    error: dict[str, Any] = data["error"] if isinstance(data.get("error"), dict) else {}
    return TokenInfo(
        app_id=str(data["app_id"]) if data.get("app_id") is not None else None,
        type=str(data["type"]) if data.get("type") else None,
        is_valid=bool(data.get("is_valid")),
        expires_at=_timestamp(data.get("expires_at")),
        data_access_expires_at=_timestamp(data.get("data_access_expires_at")),
        scopes=tuple(str(scope) for scope in data.get("scopes") or []),
        user_id=str(data["user_id"]) if data.get("user_id") is not None else None,
        error_code=error.get("code"),
        error_subcode=error.get("subcode"),
        error_message=error.get("message"),
    )
