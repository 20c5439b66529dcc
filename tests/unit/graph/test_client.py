"""Transport: auth, appsecret_proof, retries and their delays, Retry-After, redaction."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from metasync.graph import (
    GraphClient,
    GraphConfig,
    InvalidRequestError,
    RateLimitError,
    TokenError,
    TransientError,
)
from tests.unit.graph.helpers import APP_SECRET, BASE, TOKEN, error_body, make_client

URL = f"{BASE}/act_1/campaigns"


@responses.activate
def test_token_in_header_and_appsecret_proof_in_every_call() -> None:
    responses.get(URL, json={"data": []})
    client, _ = make_client()
    client.get("act_1/campaigns", {"fields": ["id", "name"], "limit": 5})
    request = responses.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    query = parse_qs(urlsplit(request.url).query)
    expected = hmac.new(APP_SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    assert query["appsecret_proof"] == [expected]
    assert "access_token" not in query
    assert TOKEN not in request.url
    assert query["fields"] == ['["id","name"]'] and query["limit"] == ["5"]


@responses.activate
@pytest.mark.parametrize(("rng", "delays"), [(0.0, [1.0, 2.0, 4.0]), (1.0, [1.25, 2.5, 5.0])])
def test_three_retries_exponential_with_jitter(rng: float, delays: list[float]) -> None:
    responses.get(URL, json=error_body(2), status=503)
    client, sleeper = make_client(rng=rng)
    with pytest.raises(TransientError):
        client.get("act_1/campaigns")
    assert len(responses.calls) == 4
    assert sleeper.delays == pytest.approx(delays)


@responses.activate
def test_retry_count_is_configurable() -> None:
    responses.get(URL, json=error_body(2), status=503)
    client, sleeper = make_client(max_retries=1)
    with pytest.raises(TransientError):
        client.get("act_1/campaigns")
    assert len(responses.calls) == 2 and sleeper.delays == [1.0]
    responses.calls.reset()
    client, sleeper = make_client(max_retries=0)
    with pytest.raises(TransientError):
        client.get("act_1/campaigns")
    assert len(responses.calls) == 1 and sleeper.delays == []


@responses.activate
def test_success_after_transient_failures() -> None:
    responses.get(URL, json=error_body(1), status=500)
    responses.get(URL, json={"data": [{"id": "1"}]})
    client, sleeper = make_client()
    assert client.get("act_1/campaigns").body["data"] == [{"id": "1"}]
    assert sleeper.delays == [1.0] and client.stats.api_calls == 2


@responses.activate
def test_retry_after_header_is_honoured() -> None:
    responses.get(URL, body="busy", status=503, headers={"Retry-After": "3"})
    responses.get(URL, json={"data": []})
    client, sleeper = make_client()
    client.get("act_1/campaigns")
    assert sleeper.delays == [3.0]


@responses.activate
def test_long_retry_after_is_raised_not_slept() -> None:
    responses.get(URL, body="busy", status=503, headers={"Retry-After": "120"})
    client, sleeper = make_client()
    with pytest.raises(TransientError) as caught:
        client.get("act_1/campaigns")
    assert caught.value.retry_after == 120.0
    assert sleeper.delays == [] and len(responses.calls) == 1


@responses.activate
def test_rate_limits_are_raised_at_once_with_their_wait() -> None:
    responses.get(URL, json=error_body(17), status=400)
    client, sleeper = make_client()
    with pytest.raises(RateLimitError) as caught:
        client.get("act_1/campaigns")
    assert caught.value.retry_after == 300.0
    assert sleeper.delays == [] and len(responses.calls) == 1


@responses.activate
def test_200_with_error_body_is_an_error() -> None:
    responses.get(URL, json=error_body(190, 460), status=200)
    client, _ = make_client()
    with pytest.raises(TokenError):
        client.get("act_1/campaigns")


@responses.activate
def test_non_json_success_is_transient() -> None:
    responses.get(URL, body="<html>oops</html>", status=200)
    client, _ = make_client(max_retries=0)
    with pytest.raises(TransientError, match="not JSON"):
        client.get("act_1/campaigns")


def _all_text(caught: pytest.ExceptionInfo[BaseException]) -> str:
    error = caught.value
    parts = [str(error), repr(error), repr(error.args)]
    parts += [str(v) for v in vars(error).values()]
    if error.__cause__ is not None:
        parts.append(repr(error.__cause__))
    return " ".join(parts)


@responses.activate
def test_token_never_appears_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f"Invalid OAuth access token {TOKEN} for app secret {APP_SECRET}"
    responses.get(URL, json=error_body(190, 467, message=echo, error_user_msg=echo), status=400)
    leaking = f"HTTPSConnectionPool: Max retries exceeded with url: /v21.0/x?access_token={TOKEN}"
    responses.get(f"{BASE}/x", body=requests.ConnectionError(leaking))
    client, _ = make_client(max_retries=1)
    with pytest.raises(TokenError) as token_error:
        client.get("act_1/campaigns")
    with pytest.raises(TransientError) as connection_error:
        client.get("x")
    for caught in (token_error, connection_error):
        text = _all_text(caught)
        assert TOKEN not in text and APP_SECRET not in text
        assert "[redacted]" in text
    assert caplog.records, "the client should log its calls"
    for record in caplog.records:
        rendered = record.getMessage() + repr(record.args) + repr(record.__dict__)
        assert TOKEN not in rendered and APP_SECRET not in rendered
    assert TOKEN not in repr(client) and APP_SECRET not in repr(client.config)


@responses.activate
def test_full_next_url_is_accepted_without_reusing_its_token() -> None:
    responses.get(URL, json={"data": []})
    client, _ = make_client()
    client.get(f"{URL}")
    assert responses.calls[0].request.headers["Authorization"].endswith(TOKEN)


@responses.activate
def test_form_posts_encode_lists_as_json() -> None:
    responses.post(f"{BASE}/act_1/insights", json={"report_run_id": "9"})
    client, _ = make_client()
    client.post("act_1/insights", {"breakdowns": ["age"], "async": True})
    sent = parse_qs(responses.calls[0].request.body)
    assert sent["breakdowns"] == ['["age"]'] and sent["async"] == ["true"]


def test_governed_client_needs_a_connection_id() -> None:
    from metasync.ratelimit import RateGovernor

    class _Redis:
        def register_script(self, _: str) -> object:
            return object()

    with pytest.raises(ValueError, match="connection id"):
        GraphClient(TOKEN, GraphConfig(BASE, APP_SECRET), governor=RateGovernor(_Redis()))  # type: ignore[arg-type]


def test_usage_headers_are_read_from_failed_answers() -> None:
    with responses.RequestsMock() as mock:
        mock.get(
            URL,
            json=error_body(100),
            status=400,
            headers={"X-App-Usage": json.dumps({"call_count": 77})},
        )
        client, _ = make_client()
        with pytest.raises(InvalidRequestError) as caught:
            client.get("act_1/campaigns")
    usage = caught.value.usage
    assert usage.app is not None and usage.app.call_count == 77
