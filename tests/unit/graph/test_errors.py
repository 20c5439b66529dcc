"""Every row of META_API.md's error table, through the client, with the retries each gets."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from metasync.graph import (
    DeprecatedVersionError,
    InsightsTimeoutError,
    InvalidCursorError,
    InvalidRequestError,
    MetaAPIError,
    ObjectNotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReduceDataError,
    TokenError,
    TransientError,
    error_from_response,
)
from tests.unit.graph.helpers import BASE, buc_header, error_body, make_client

URL = f"{BASE}/act_1/campaigns"

# (id, http status, body, headers, expected error type, HTTP calls made with 3 retries)
ROWS: list[tuple[str, int, Any, dict[str, str], type[MetaAPIError], int]] = [
    (
        "1-reduce-data",
        500,
        error_body(
            1, message="Please reduce the amount of data you're asking for, then retry your request"
        ),
        {},
        ReduceDataError,
        1,
    ),
    ("1-unknown", 500, error_body(1, message="An unknown error occurred"), {}, TransientError, 4),
    (
        "2-unavailable",
        503,
        error_body(2, message="Service temporarily unavailable"),
        {},
        TransientError,
        4,
    ),
    ("2-1504038-insights-timeout", 500, error_body(2, 1504038), {}, InsightsTimeoutError, 1),
    ("4-app-limit", 400, error_body(4), {}, RateLimitError, 1),
    ("10-permission", 403, error_body(10), {}, PermissionDeniedError, 1),
    ("200-permission", 403, error_body(200), {}, PermissionDeniedError, 1),
    ("294-permission", 403, error_body(294), {}, PermissionDeniedError, 1),
    ("17-user-limit", 400, error_body(17), {}, RateLimitError, 1),
    ("17-2446079-account-quota", 400, error_body(17, 2446079), {}, RateLimitError, 1),
    ("32-page-limit", 400, error_body(32), {}, RateLimitError, 1),
    ("341-app-limit", 400, error_body(341), {}, RateLimitError, 1),
    ("613-1487742-custom", 400, error_body(613, 1487742), {}, RateLimitError, 1),
    ("80000-insights-buc", 400, error_body(80000), buc_header("555", 3), RateLimitError, 1),
    ("80004-ads-management-buc", 400, error_body(80004), buc_header("555", 5), RateLimitError, 1),
    ("80014-buc", 400, error_body(80014), {}, RateLimitError, 1),
    (
        "100-invalid-parameter",
        400,
        error_body(100, message="(#100) Tried accessing nonexisting field (foo)"),
        {},
        InvalidRequestError,
        1,
    ),
    ("100-33-missing-object", 400, error_body(100, 33), {}, ObjectNotFoundError, 1),
    ("102-session", 401, error_body(102), {}, TokenError, 1),
    ("190-458-not-installed", 400, error_body(190, 458), {}, TokenError, 1),
    ("190-459-checkpoint", 400, error_body(190, 459), {}, TokenError, 1),
    ("190-460-password", 400, error_body(190, 460), {}, TokenError, 1),
    ("190-463-expired", 400, error_body(190, 463), {}, TokenError, 1),
    ("190-464-unconfirmed", 400, error_body(190, 464), {}, TokenError, 1),
    ("190-467-invalid", 400, error_body(190, 467), {}, TokenError, 1),
    ("960-batch-aborted", 500, error_body(960), {}, TransientError, 4),
    ("2601-1815107-report", 500, error_body(2601, 1815107), {}, TransientError, 4),
    ("2635-deprecated-version", 400, error_body(2635), {}, DeprecatedVersionError, 1),
    ("2642-invalid-cursor", 400, error_body(2642), {}, InvalidCursorError, 1),
    ("http-502-html", 502, "<html>Bad Gateway</html>", {}, TransientError, 4),
    ("http-500-empty", 500, "", {}, TransientError, 4),
    ("is-transient-flag", 400, error_body(9999, is_transient=True), {}, TransientError, 4),
    ("http-429", 429, "", {"Retry-After": "30"}, RateLimitError, 1),
    ("unknown-4xx", 400, error_body(12345), {}, InvalidRequestError, 1),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "calls"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
@responses.activate
def test_error_table_row(
    status: int, body: Any, headers: dict[str, str], expected: type[MetaAPIError], calls: int
) -> None:
    payload = json.dumps(body) if isinstance(body, dict) else body
    responses.get(URL, body=payload, status=status, headers=headers)
    client, sleeper = make_client()
    with pytest.raises(expected) as caught:
        client.get("act_1/campaigns")
    assert type(caught.value) is expected
    assert len(responses.calls) == calls
    assert len(sleeper.delays) == calls - 1
    assert client.stats.retries == calls - 1
    if isinstance(body, dict):
        assert caught.value.code == body["error"]["code"]
        assert caught.value.fbtrace_id == "AbCdEfG123"
        assert caught.value.subcode == body["error"].get("error_subcode")
    assert caught.value.http_status == status


def test_token_error_knows_expiry_subcode() -> None:
    expired = error_from_response(400, error_body(190, 463))
    invalid = error_from_response(400, error_body(190, 467))
    assert isinstance(expired, TokenError) and expired.expired
    assert isinstance(invalid, TokenError) and not invalid.expired


@pytest.mark.parametrize(
    ("body", "headers", "scope", "wait"),
    [
        (error_body(80004), buc_header("555", 5), "business", 300.0),
        (error_body(80000), buc_header("777", 0.5), "business", 30.0),
        (
            error_body(17, 2446079),
            {
                "X-Ad-Account-Usage": json.dumps(
                    {"acc_id_util_pct": 100, "reset_time_duration": 420}
                )
            },
            "account",
            420.0,
        ),
        (error_body(17, 2446079), {}, "account", 900.0),
        (error_body(4), {}, "app", 300.0),
        (error_body(17), {}, "user", 300.0),
        (error_body(613, 1487742), {}, "account", 60.0),  # "too many calls from this ad-account"
        (error_body(613), {}, "custom", 60.0),
        (error_body(4), {"Retry-After": "12"}, "app", 12.0),
    ],
)
def test_rate_limit_errors_carry_scope_and_wait_in_seconds(
    body: dict[str, Any], headers: dict[str, str], scope: str, wait: float
) -> None:
    error = error_from_response(400, body, headers)
    assert isinstance(error, RateLimitError)
    assert error.scope == scope
    assert error.retry_after == pytest.approx(wait)
    assert f"retry in {wait:.0f} s" in str(error)


def test_business_scope_names_the_throttled_id() -> None:
    error = error_from_response(400, error_body(80004), buc_header("555", 2))
    assert isinstance(error, RateLimitError) and error.scope_id == "555"


@responses.activate
def test_connection_reset_and_timeouts_are_transient_and_retried() -> None:
    responses.get(URL, body=requests.ConnectionError("Connection reset by peer"))
    responses.get(URL, body=requests.ReadTimeout("read timed out"))
    responses.get(URL, json={"data": []})
    client, sleeper = make_client()
    assert client.get("act_1/campaigns").body == {"data": []}
    assert len(responses.calls) == 3
    assert sleeper.delays == [1.0, 2.0]


def test_batch_item_json_string_body_is_mapped() -> None:
    error = error_from_response(400, json.dumps(error_body(100, 33)))
    assert isinstance(error, ObjectNotFoundError)


def test_error_records_are_json_safe() -> None:
    record = error_from_response(400, error_body(190, 460)).as_record()
    assert record == {
        "type": "TokenError",
        "message": record["message"],
        "code": 190,
        "subcode": 460,
        "http_status": 400,
        "fbtrace_id": "AbCdEfG123",
    }
    json.dumps(record)
