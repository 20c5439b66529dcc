"""The rate governor on a real Redis: shared budgets across processes, blocks, pacing, expiry."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from metasync.budgets import use_case_of
from metasync.graph import GraphClient, GraphConfig, RateGovernorUnavailable, RateLimitError
from metasync.graph.usage import parse_usage_headers
from metasync.keys import RedisKeys
from metasync.ratelimit import RateGovernor
from tests.support.governor import governor

APP_SECRET = "governor-test-secret"


class _CountingHandler(BaseHTTPRequestHandler):
    hits = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).hits += 1
        payload = json.dumps({"data": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def counting_server() -> Iterator[tuple[str, type[_CountingHandler]]]:
    handler = type("Handler", (_CountingHandler,), {"hits": 0, "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v21.0", handler
    server.shutdown()
    server.server_close()


def _worker(
    redis_url: str,
    prefix: str,
    base_url: str,
    call: tuple[str, str | None, int],
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    path, account_id, attempts = call
    gov = governor(redis.Redis.from_url(redis_url), prefix, calls_per_hour=50)
    client = GraphClient(
        "proc-token",
        GraphConfig(base_url, APP_SECRET, max_retries=0),
        governor=gov,
        connection_id="conn-1",
        sleep=lambda _: None,
    )
    made = refused = 0
    for _ in range(attempts):
        try:
            client.get(path, account_id=account_id)
            made += 1
        except RateLimitError:
            refused += 1
    out.put((made, refused))


@pytest.mark.parametrize(
    ("path", "account_id", "attempts", "budget"),
    [
        ("me/adaccounts", None, 30, 50),  # the user's platform budget (calls_per_hour)
        ("act_1/campaigns", "1", 100, 285),  # ads_management, limited tier: 95 % of 300
        ("act_1/insights", "1", 200, 570),  # ads_insights, limited tier: 95 % of 600
    ],
)
def test_processes_sharing_a_budget_never_exceed_it(
    redis_client: redis.Redis,
    redis_url: str,
    redis_prefix: str,
    counting_server: tuple[str, type[_CountingHandler]],
    path: str,
    account_id: str | None,
    attempts: int,
    budget: int,
) -> None:
    """Four processes share one budget: the server sees exactly the budget, whichever it is
    (the account has no active ads recorded, so Meta's formula gives its base)."""
    base_url, handler = counting_server
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    call = (path, account_id, attempts)
    processes = [
        context.Process(target=_worker, args=(redis_url, redis_prefix, base_url, call, out))
        for _ in range(4)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for process in processes:
            process.start()
    results = [out.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(10)
    made = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    assert made == budget, results
    assert refused == 4 * attempts - budget
    assert handler.hits == budget  # the server saw exactly the budget
    keys = RedisKeys(redis_prefix)
    if account_id is None:
        calls_key = keys.calls("conn-1")
        assert redis_client.zcard(calls_key) == budget
    else:
        calls_key = keys.account_calls(account_id, use_case_of(path))
        assert sum(int(v) for v in redis_client.hvals(calls_key)) == budget
    assert 0 < redis_client.pttl(calls_key) <= 3660 * 1000


def test_sliding_window_answers_how_long_to_wait(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    gov = governor(redis_client, redis_prefix, calls_per_hour=3, window_seconds=1.5)
    assert [gov.acquire("c").allowed for _ in range(3)] == [True, True, True]
    refused = gov.acquire("c")
    assert not refused.allowed and 0 < refused.wait_seconds <= 1.5
    assert refused.reason == "rl:calls:c"
    time.sleep(refused.wait_seconds + 0.05)
    assert gov.acquire("c").allowed


def test_cost_is_charged_per_inner_call(redis_client: redis.Redis, redis_prefix: str) -> None:
    gov = governor(redis_client, redis_prefix, calls_per_hour=60)
    assert gov.acquire("c", cost=50).used == 50
    assert not gov.acquire("c", cost=11).allowed
    assert gov.acquire("c", cost=10).allowed
    assert not gov.acquire("other", cost=61).allowed


def test_throttled_account_waits_while_another_proceeds(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    gov = governor(redis_client, redis_prefix)
    usage = parse_usage_headers(
        {"X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 100, "reset_time_duration": 2})}
    )
    gov.record_usage(usage, connection_id="c", account_id="111")
    blocked = gov.acquire("c", account_id="111")
    assert not blocked.allowed and 1.0 < blocked.wait_seconds <= 2.0
    assert blocked.reason == "rl:blocked:account:111"
    assert gov.acquire("c", account_id="222").allowed
    key = RedisKeys(redis_prefix).blocked("account", "111")
    assert 0 < redis_client.pttl(key) <= 2000
    time.sleep(blocked.wait_seconds + 0.05)
    assert redis_client.exists(key) == 0  # the block expired by itself
    assert gov.acquire("c", account_id="111").allowed


def test_business_regain_time_blocks_that_business(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    gov = governor(redis_client, redis_prefix)
    usage = parse_usage_headers(
        {
            "X-Business-Use-Case-Usage": json.dumps(
                {
                    "999": [
                        {
                            "type": "ads_management",
                            "call_count": 100,
                            "estimated_time_to_regain_access": 2,
                        }
                    ]
                }
            )
        }
    )
    gov.record_usage(usage, connection_id="c", account_id="111")
    refused = gov.acquire("c", account_id="111", business_id="999")
    assert not refused.allowed and 110 < refused.wait_seconds <= 120  # 2 minutes
    assert gov.acquire("c", account_id="111", business_id="555").allowed


def test_a_block_is_never_shortened(redis_client: redis.Redis, redis_prefix: str) -> None:
    gov = governor(redis_client, redis_prefix)
    assert gov.block("account", "1", 60) == pytest.approx(60, abs=0.5)
    assert gov.block("account", "1", 5) == pytest.approx(60, abs=0.5)
    assert gov.acquire("c", account_id="1").wait_seconds == pytest.approx(60, abs=0.5)


def test_high_usage_paces_calls(redis_client: redis.Redis, redis_prefix: str) -> None:
    gov = governor(redis_client, redis_prefix, slowdown_pct=80)
    usage = parse_usage_headers({"X-App-Usage": json.dumps({"call_count": 90})})
    gov.record_usage(usage, connection_id="c")
    assert gov.acquire("c").allowed
    paced = gov.acquire("c")
    assert not paced.allowed and paced.reason == "rl:pace:app:all"
    assert 14 < paced.wait_seconds <= 15  # halfway from 80 % to 100 %: half of 30 s
    pace_key = RedisKeys(redis_prefix).pace("app", "all")
    assert 0 < redis_client.pttl(pace_key) <= 300_000


def test_usage_below_the_threshold_does_not_pace(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    gov = governor(redis_client, redis_prefix)
    gov.record_usage(parse_usage_headers({"X-App-Usage": '{"call_count": 50}'}), connection_id="c")
    assert all(gov.acquire("c").allowed for _ in range(5))


def test_warns_once_per_window_at_90_percent(
    redis_client: redis.Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="metasync.ratelimit")
    gov = governor(redis_client, redis_prefix, calls_per_hour=10, warn_ratio=0.9)
    for _ in range(10):
        assert gov.acquire("c").allowed
    warnings_logged = [r for r in caplog.records if "calls this hour" in r.getMessage()]
    assert len(warnings_logged) == 1
    assert "used 9 of its 10" in warnings_logged[0].getMessage()


def test_throttling_error_blocks_its_scope_through_the_client(
    redis_client: redis.Redis,
    redis_prefix: str,
    counting_server: tuple[str, type[_CountingHandler]],
) -> None:
    gov = governor(redis_client, redis_prefix)
    from metasync.graph import error_from_response

    error = error_from_response(
        400,
        {"error": {"code": 17, "error_subcode": 2446079}},
        {"X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": 100, "reset_time_duration": 600})},
    )
    assert isinstance(error, RateLimitError)
    gov.block_for_error(error, connection_id="c", account_id="111")
    base_url, handler = counting_server
    client = GraphClient(
        "t0ken-x",
        GraphConfig(base_url, APP_SECRET),
        governor=gov,
        connection_id="c",
        sleep=lambda _: None,
    )
    with pytest.raises(RateLimitError) as caught:
        client.get("act_111/ads", account_id="111")
    assert caught.value.scope == "governor" and caught.value.retry_after > 590
    assert handler.hits == 0  # refused before any HTTP call
    client.get("act_222/ads", account_id="222")
    assert handler.hits == 1


def test_unreachable_redis_fails_closed() -> None:
    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    gov = RateGovernor(dead)
    with pytest.raises(RateGovernorUnavailable, match="retry later"):
        gov.acquire("c")
    with pytest.raises(RateGovernorUnavailable):
        gov.block("account", "1", 10)


def test_pacing_follows_the_latest_usage(redis_client: redis.Redis, redis_prefix: str) -> None:
    gov = governor(redis_client, redis_prefix, slowdown_pct=80)
    gov.record_usage(parse_usage_headers({"X-App-Usage": '{"call_count": 95}'}), connection_id="c")
    assert gov.acquire("c").allowed
    assert not gov.acquire("c").allowed  # paced
    gov.record_usage(parse_usage_headers({"X-App-Usage": '{"call_count": 40}'}), connection_id="c")
    assert gov.acquire("c").allowed  # usage fell: no more pacing
    assert redis_client.exists(RedisKeys(redis_prefix).pace("app", "all")) == 0


def test_several_values_for_one_scope_combine_by_their_maximum(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    """Before: usage was applied in header order, so the ads_insights entry at 10 % deleted the
    pacing the ads_management entry at 97 % had just set (and the insights throttle's low
    app value cancelled X-App-Usage's high one)."""
    gov = governor(redis_client, redis_prefix, slowdown_pct=80)
    entries = [
        {"type": "ads_management", "call_count": 97, "total_cputime": 10, "total_time": 10},
        {"type": "ads_insights", "call_count": 10, "total_cputime": 5, "total_time": 5},
    ]
    headers = {
        "X-Business-Use-Case-Usage": json.dumps({"42": entries}),
        "X-App-Usage": json.dumps({"call_count": 96}),
        "X-FB-Ads-Insights-Throttle": json.dumps({"app_id_util_pct": 3, "acc_id_util_pct": 2}),
    }
    gov.record_usage(parse_usage_headers(headers), connection_id="c", account_id="42")
    keys = RedisKeys(redis_prefix)
    assert redis_client.exists(keys.pace("business", "42:ads_management")) == 1
    assert redis_client.exists(keys.pace("business", "42:ads_insights")) == 0
    assert redis_client.exists(keys.pace("app", "all")) == 1
    assert gov.acquire("c", account_id="42").allowed
    assert not gov.acquire("c", account_id="42").allowed  # paced


def test_an_account_throttling_code_blocks_the_account_not_the_app(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    """(613, 1487742) "too many calls from this ad-account": before, it blocked the whole app."""
    from metasync.graph import error_from_response

    gov = governor(redis_client, redis_prefix)
    body = {
        "error": {
            "code": 613,
            "error_subcode": 1487742,
            "message": "(#613) Calls to this api have exceeded the rate limit.",
        }
    }
    error = error_from_response(400, body)
    assert isinstance(error, RateLimitError) and error.scope == "account"
    gov.block_for_error(error, connection_id="c", account_id="1")
    assert not gov.acquire("c", account_id="1").allowed
    assert gov.acquire("c", account_id="2").allowed  # another account of the app carries on
