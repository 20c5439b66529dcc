"""``metasync flower`` as a real process against the test Redis (its own key prefix)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests

from metasync.embedded import free_port, wait_for_port

OPS = ("ops", "5be0c2d8e17f49a3")
PROMETHEUS = ("prometheus", "0d6e3a9f41c27b85")
FLOWER_BASIC_AUTH = f"{OPS[0]}:{OPS[1]},{PROMETHEUS[0]}:{PROMETHEUS[1]}"
TASK = "metasync.sync_connection"


def run_flower(env: dict[str, str], value: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metasync", "flower", "--port", str(free_port())],
        env={"PATH": os.environ.get("PATH", ""), **env, "FLOWER_BASIC_AUTH": value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is required"),
        ("admin:change-me", "has an example password for 'admin'"),
        ("admin:admin", "has an example password for 'admin'"),
        ("ops:password", "has an example password for 'ops'"),
        ("ops:kT7#q2", "has a password for 'ops' shorter than 12 characters"),
    ],
)
def test_flower_refuses_a_missing_or_example_password_in_one_line(
    env: dict[str, str], value: str, problem: str
) -> None:
    result = run_flower(env, value)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"FLOWER_BASIC_AUTH: {problem}; set it to user:password pairs separated by commas, "
        "each password generated, e.g. ops:$(openssl rand -hex 16)"
    ]
    assert "kT7#q2" not in result.stderr + result.stdout


@pytest.fixture
def start_flower(
    env: dict[str, str], redis_prefix: str, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[Callable[..., str]]:
    """Starts ``metasync flower`` on a free port with FLOWER_BASIC_AUTH (and ``extra``
    settings); returns its base URL."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> str:
        port = free_port()
        with (tmp_path / "flower.log").open("ab") as log:
            process = subprocess.Popen(  # fixed argv, no shell
                [sys.executable, "-m", "metasync", "flower", "--port", str(port)],
                env={
                    "PATH": os.environ.get("PATH", ""),
                    **env,
                    "REDIS_KEY_PREFIX": redis_prefix,
                    "FLOWER_BASIC_AUTH": FLOWER_BASIC_AUTH,
                    **extra,
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        assert wait_for_port(port, 60, process), (tmp_path / "flower.log").read_text()
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.terminate()
        assert process.wait(15) == 0, "SIGTERM stops Flower cleanly"
    log = (tmp_path / "flower.log").read_text(errors="replace")
    assert OPS[1] not in log and PROMETHEUS[1] not in log, "no password in Flower's log"


def queued(client: redis.Redis, prefix: str) -> int:
    """Messages waiting in the workers' queue (kombu's list ``<prefix>celery``)."""
    return int(client.llen(f"{prefix}celery"))


def apply(url: str, auth: tuple[str, str] | None) -> requests.Response:
    """What queued a full sync through Flower before: its task-apply API."""
    return requests.post(
        f"{url}/api/task/async-apply/{TASK}",
        json={"args": ["000000000000000000000000"], "kwargs": {"kind": "entities"}},
        auth=auth,
        timeout=10,
    )


def test_flower_answers_nothing_without_credentials_and_is_read_only_with_them(
    start_flower: Callable[..., str], redis_client: redis.Redis, redis_prefix: str
) -> None:
    """Before (``celery flower --basic-auth``): ``/metrics`` answered anyone, and the task-apply
    API queued a sync with the password."""
    url = start_flower()
    for path in (
        "/",
        "/api/tasks",
        "/api/workers",
        "/metrics",
        "/healthcheck",
        "/static/js/flower.js",
    ):
        for auth in (None, (OPS[0], "0d6e3a9f41c27b85")):  # none, or another user's password
            answer = requests.get(f"{url}{path}", auth=auth, timeout=10)
            assert answer.status_code == 401, (path, auth, answer.status_code)
            assert answer.headers["WWW-Authenticate"] == 'Basic realm="flower"'
    dashboard = requests.get(f"{url}/", auth=OPS, timeout=10)
    assert dashboard.status_code == 200 and "Workers · Flower" in dashboard.text
    assert requests.get(f"{url}/api/tasks", auth=OPS, timeout=10).json() == {}
    metrics = requests.get(f"{url}/metrics", auth=PROMETHEUS, timeout=10)
    assert metrics.status_code == 200 and "flower_events_total" in metrics.text

    assert apply(url, None).status_code == 401
    refused = apply(url, OPS)
    assert refused.status_code == 403 and "FLOWER_TASK_CONTROL" in refused.text
    for path in (
        f"/api/task/send-task/{TASK}",
        f"/api/task/apply/{TASK}",
        "/api/task/revoke/1480b55c-b8b2-462c-985e-24af3e9158f9",
        f"/api/task/rate-limit/{TASK}",
        "/api/worker/shutdown/w1@host",
        "/api/worker/pool/restart/w1@host",
    ):
        answer = requests.post(f"{url}{path}", data={"ratelimit": "1/m"}, auth=OPS, timeout=10)
        assert answer.status_code == 403, path
    time.sleep(0.5)
    assert queued(redis_client, redis_prefix) == 0


def test_task_control_is_a_setting_an_operator_turns_on(
    start_flower: Callable[..., str], redis_client: redis.Redis, redis_prefix: str
) -> None:
    """The read-only test's control: with FLOWER_TASK_CONTROL=true the same request queues."""
    url = start_flower(FLOWER_TASK_CONTROL="true")
    assert apply(url, None).status_code == 401
    answer = apply(url, OPS)
    assert answer.status_code == 200, answer.text
    assert queued(redis_client, redis_prefix) == 1


def test_a_burst_of_wrong_passwords_gets_ten_checks_then_429(
    start_flower: Callable[..., str], tmp_path: Path
) -> None:
    """Before: 200 wrong passwords were answered in 0.5 s, none throttled. Now 40 concurrent
    guesses get at most the bucket's 10 checks (plus one a second of the burst's duration);
    the rest are told to wait, and the right password works once the wait is over."""
    url = start_flower()

    def guess(number: int) -> requests.Response:
        return requests.get(f"{url}/api/tasks", auth=(OPS[0], f"wrong-{number:012d}"), timeout=10)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(guess, range(40)))
    elapsed = time.monotonic() - started
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= 10 + int(elapsed) + 1, (statuses, elapsed)
    waits = {int(a.headers["Retry-After"]) for a in answers if a.status_code == 429}
    assert waits and max(waits) <= 2
    time.sleep(max(waits))
    assert requests.get(f"{url}/api/tasks", auth=OPS, timeout=10).status_code == 200
    log = (tmp_path / "flower.log").read_text()
    assert log.count("wrong Flower passwords are being throttled") == 1, "once a minute at most"
