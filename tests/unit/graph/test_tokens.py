"""Token exchange and debug_token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from metasync.graph import GraphConfig, TokenError, debug_token, exchange_token
from tests.unit.graph.helpers import APP_SECRET, BASE, error_body

CONFIG = GraphConfig(base_url=BASE, app_secret=APP_SECRET, max_retries=0)
SHORT = "EAAshortlivedtoken-not-real-123456"
LONG = "EAAlonglivedtoken-not-real-654321"


@responses.activate
def test_exchange_gives_a_long_lived_token_with_expiry() -> None:
    responses.get(
        f"{BASE}/oauth/access_token",
        json={"access_token": LONG, "token_type": "bearer", "expires_in": 5184000},
    )
    now = datetime(2026, 11, 1, tzinfo=UTC)
    token = exchange_token(CONFIG, "123", SHORT, now=now)
    assert token.access_token == LONG
    assert token.expires_at == now + timedelta(days=60)
    assert LONG not in repr(token)
    query = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert query["grant_type"] == ["fb_exchange_token"] and query["client_id"] == ["123"]
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_expired_token_cannot_be_exchanged_and_nothing_leaks() -> None:
    message = f"Error validating access token {SHORT}: Session has expired"
    responses.get(
        f"{BASE}/oauth/access_token", json=error_body(190, 463, message=message), status=400
    )
    with pytest.raises(TokenError) as caught:
        exchange_token(CONFIG, "123", SHORT)
    text = str(caught.value) + repr(caught.value) + caught.value.message
    assert SHORT not in text and APP_SECRET not in text
    assert caught.value.expired


@responses.activate
def test_debug_token_reads_type_validity_expiry_and_scopes() -> None:
    responses.get(
        f"{BASE}/debug_token",
        json={
            "data": {
                "app_id": "123",
                "type": "SYSTEM_USER",
                "is_valid": True,
                "expires_at": 0,
                "data_access_expires_at": 1798761600,
                "scopes": ["ads_read", "business_management"],
                "user_id": "42",
            }
        },
    )
    info = debug_token(CONFIG, "123", LONG)
    assert (info.type, info.is_valid, info.expires_at, info.user_id) == (
        "SYSTEM_USER",
        True,
        None,
        "42",
    )
    assert info.data_access_expires_at == datetime.fromtimestamp(1798761600, UTC)
    assert info.scopes == ("ads_read", "business_management")
    request = responses.calls[0].request
    assert request.headers["Authorization"] == f"Bearer 123|{APP_SECRET}"


@responses.activate
def test_debug_token_of_an_invalid_token() -> None:
    responses.get(
        f"{BASE}/debug_token",
        json={
            "data": {
                "app_id": "123",
                "type": "USER",
                "is_valid": False,
                "expires_at": 1700000000,
                "scopes": [],
                "error": {"code": 190, "subcode": 463, "message": "expired"},
            }
        },
    )
    info = debug_token(CONFIG, "123", LONG)
    assert not info.is_valid and info.error_code == 190 and info.error_subcode == 463
    assert info.expires_at == datetime.fromtimestamp(1700000000, UTC)
