"""Concurrent wrong guesses against a real server: the web app under uvicorn in a thread, real
HTTP from 40 threads at once, the login throttle on real Redis, and every argon2 verification
counted. A burst costs at most ``LOGIN_FREE_FAILURES + 1`` checks per user and per address,
and at most one more after the wait it earned."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import pytest
import redis
import requests
import uvicorn
from argon2 import PasswordHasher

from metasync.config import load_settings
from metasync.console import auth
from metasync.console.throttle import LoginThrottle
from metasync.embedded import free_port
from metasync.keys import RedisKeys
from metasync.webhooks.app import create_app
from tests.support.console import csrf_of

FREE = 5  # LOGIN_FREE_FAILURES's default
BURST = 40


class CountingHasher(PasswordHasher):
    """argon2's hasher, counting its verifications (list appends hold under threads)."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[float] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append(time.monotonic())
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(auth, "HASHER", counting)
    return counting


@pytest.fixture
def server(web_env: dict[str, str], redis_client: redis.Redis) -> Iterator[str]:
    """The web app served by uvicorn on loopback (a listed proxy by default, so a request's
    X-Forwarded-For names the client it stands for); its base URL."""
    app = create_app(
        load_settings({**web_env, "LOGIN_FREE_FAILURES": str(FREE)}),
        lambda c, k: None,
        redis_client,
        connect_db=False,
        request_sync=lambda c, k: "req-1",
        refresh_token=lambda c: "req-2",
    )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive(), "uvicorn did not stop"


def _burst(base: str, guesses: list[tuple[str, str]]) -> list[requests.Response]:
    """Post every ``(user, address)`` wrong guess at once (after one shared form token)."""
    token = csrf_of(requests.get(f"{base}/console/login", timeout=10).text)
    start = threading.Barrier(len(guesses))

    def guess(user_address: tuple[str, str]) -> requests.Response:
        user, address = user_address
        with requests.Session() as session:
            start.wait(timeout=30)
            return session.post(
                f"{base}/console/login",
                allow_redirects=False,
                timeout=60,
                data={"username": user, "password": "wrong guess", "csrf": token},
                headers={"Origin": base, "X-Forwarded-For": address},
            )

    with ThreadPoolExecutor(max_workers=len(guesses)) as pool:
        return list(pool.map(guess, guesses))


def _wait_out(answers: list[requests.Response]) -> None:
    waits = [int(a.headers["Retry-After"]) for a in answers if a.status_code == 429]
    assert waits and max(waits) <= 2, "the first wait a burst earns is 2 s"
    time.sleep(max(waits) + 0.1)


def one_user(burst: int, i: int) -> tuple[str, str]:
    """Every guess for ``ops``, each from an address of its own."""
    return "ops", f"198.51.{100 + burst}.{i + 1}"


def one_address(burst: int, i: int) -> tuple[str, str]:
    """Every guess from one address, each for a user of its own."""
    return f"guesser{burst}-{i}", "203.0.113.66"


Spread = Callable[[int, int], tuple[str, str]]


@pytest.mark.parametrize("spread", [one_user, one_address], ids=["one user", "one address"])
def test_a_burst_of_guesses_costs_the_free_allowance_in_password_checks(
    server: str, hasher: CountingHasher, spread: Spread
) -> None:
    """Before: the count was read before the check and written after it, so every guess of a
    burst passed the read: 12-27 checks of 40 where 6 were intended, and 10-15 more after
    each wait."""
    first = _burst(server, [spread(0, i) for i in range(BURST)])
    statuses = [answer.status_code for answer in first]
    assert len(hasher.verified) <= FREE + 1, f"{len(hasher.verified)} checks for one burst"
    assert statuses.count(401) == len(hasher.verified) >= 1, statuses
    assert statuses.count(429) == BURST - len(hasher.verified), statuses
    _wait_out(first)

    before = len(hasher.verified)
    second = _burst(server, [spread(1, i) for i in range(BURST)])
    statuses = [answer.status_code for answer in second]
    assert len(hasher.verified) - before <= 1, "after a wait, one more check earns the next"
    assert statuses.count(401) == len(hasher.verified) - before, statuses
    assert statuses.count(429) >= BURST - 1, statuses


def test_an_attempt_never_checked_is_taken_back_and_a_success_clears_the_count(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    """A guess refused for want of a check slot (503) costs no check, so it is not counted;
    taking one back never drives a count below zero or revives one a success cleared."""
    throttle = LoginThrottle(redis_client, RedisKeys(redis_prefix), 2, 900)
    assert [throttle.reserve("198.51.100.1", "ops") for _ in range(2)] == [0, 0]
    throttle.release("198.51.100.1", "ops")
    assert throttle.reserve("198.51.100.1", "ops") == 0, "the second of two free attempts"
    assert throttle.reserve("198.51.100.1", "ops") == 0, "the attempt that earns the wait"
    assert throttle.reserve("198.51.100.2", "ops") == 2, "the user waits 2 s everywhere"
    assert throttle.reserve("198.51.100.1", "someone") == 2, "and so does the address"
    throttle.succeeded("198.51.100.1", "ops")
    throttle.release("198.51.100.1", "ops")
    assert redis_client.keys(f"{redis_prefix}web:login-*") == []
    assert [throttle.reserve("198.51.100.1", "ops") for _ in range(3)] == [0, 0, 0]
    assert throttle.reserve("198.51.100.1", "ops") == 2
