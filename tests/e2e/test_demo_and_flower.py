"""The README's main job (``metasync demo --once``) and Flower's view of real tasks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
import requests
from celery import Celery

from metasync.embedded import Workers
from metasync.models import MetaConnection, SyncRun
from tests.e2e.conftest import FLOWER_AUTH
from tests.support.sandbox import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_demo_once_on_a_small_world(tmp_path: Path) -> None:
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "metasync",
            "demo",
            "--once",
            "--small",
            "--workdir",
            str(tmp_path / "demo"),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for expected in (
        "embedded MongoDB-wire server",
        "embedded Redis at unix://",
        "started 2 worker processes",
        "added 2 connections",
        "act_",
        "The rest of each account",
        "Flower (tasks, retries): http://127.0.0.1:",
        "/console  user ops, password ",
        "Authorization: Bearer msk_",
        "--once: stopping everything",
        "Your warehouse (Fivetran's Facebook Ads tables",
    ):
        assert expected in out
    assert "ended failed" not in out and "ended partial" not in out
    assert "exports are still running" not in out
    files = sorted((tmp_path / "demo" / "warehouse").glob("*.duckdb"))
    assert len(files) == 2  # one per tenant, written by the workers after the syncs
    for file in files:
        with duckdb.connect(str(file), read_only=True) as warehouse:
            (schema,) = {r[0] for r in warehouse.sql(
                "SELECT schema_name FROM information_schema.schemata "
                "WHERE schema_name LIKE 'facebook_ads_%'"
            ).fetchall()}  # fmt: skip
            rows = warehouse.sql(f"SELECT count(*) FROM {schema}.basic_ad").fetchone()
        assert rows is not None and rows[0] > 0
    assert "sbx-" not in out  # no token is printed
    # the warehouse's sample query is one line that runs as pasted (this interpreter has duckdb)
    [query] = [line.strip() for line in out.splitlines() if "import duckdb" in line]
    pasted = subprocess.run(
        ["bash", "-c", query], capture_output=True, text=True, timeout=60, check=False
    )
    assert pasted.returncode == 0, pasted.stderr
    assert pasted.stdout.startswith("[(") and "Decimal" in pasted.stdout
    leftover = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "demo")], capture_output=True, text=True, check=False
    )
    assert leftover.stdout.strip() == "", "every demo process was stopped"


def test_flower_shows_named_tasks_with_readable_secret_free_arguments_and_retries(
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    flower_url: str,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    world.control("POST", "faults", {"error_5xx_rate": 1.0})
    connection = connections[0]
    celery_client.send_task("metasync.sync_connection", args=[str(connection.pk)])
    time.sleep(3)  # the first attempts fail and are retried with backoff
    world.control("PUT", "faults", {})
    wait_for_runs(1, timeout=120)
    url = f"{flower_url}/api/tasks"
    assert requests.get(url, timeout=10).status_code == 401
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tasks = requests.get(url, auth=FLOWER_AUTH, timeout=10).json()
        names = {task.get("name") for task in tasks.values()}
        if {"metasync.sync_connection", "metasync.fetch_edge"} <= names:
            break
        time.sleep(1)
    assert {"metasync.sync_connection", "metasync.fetch_edge"} <= names
    text = str(tasks)
    assert str(connection.pk) in text  # arguments are readable ids
    for user in world.info["users"]:
        assert user["token"] not in text
    assert world.info["app_secret"] not in text
    assert any((task.get("retries") or 0) >= 1 for task in tasks.values()), (
        "Flower shows the retries"
    )


def assert_flower_is_the_read_only_one(line: str) -> None:
    """The demo's Flower (its line: URL, user, generated password) is ``metasync flower``:
    nothing without the password, read-only with it."""
    match = re.search(r"(http://127\.0\.0\.1:\d+)\s+user (\w+), password (\S+)", line)
    assert match, line
    url, user, password = match.groups()
    assert len(password) >= 12
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 401
    assert requests.get(f"{url}/api/tasks", auth=(user, password), timeout=10).status_code == 200
    apply = requests.post(
        f"{url}/api/task/async-apply/metasync.sync_connection",
        json={"args": ["000000000000000000000000"]},
        auth=(user, password),
        timeout=10,
    )
    assert apply.status_code == 403


@pytest.mark.parametrize(
    ("signal_number", "when"),
    [(signal.SIGTERM, "added 2 connections"), (signal.SIGINT, "Flower (tasks, retries)")],
)
def test_the_demo_shuts_down_within_10_seconds_of_a_signal(
    tmp_path: Path, signal_number: int, when: str
) -> None:
    """A supervisor's SIGTERM in the middle of the first syncs, or an operator's Ctrl-C
    (SIGINT) once everything is up, stops every demo process within 10 s (the bound the
    operator issue sets; about 5 s here), leaving none behind."""
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    workdir = tmp_path / "demo"
    demo = subprocess.Popen(  # fixed argv, no shell
        [sys.executable, "-m", "metasync", "demo", "--small", "--workdir", str(workdir)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    deadline = time.monotonic() + 240
    for line in demo.stdout:  # the line after which the signal is sent
        if when in line or time.monotonic() > deadline:
            break
    if "Flower" in when:
        assert_flower_is_the_read_only_one(line)
    demo.send_signal(signal_number)
    started = time.monotonic()
    demo.communicate(timeout=60)
    assert time.monotonic() - started <= 10.0
    leftover = subprocess.run(
        ["pgrep", "-f", str(workdir)], capture_output=True, text=True, check=False
    )
    assert leftover.stdout.strip() == "", "every demo process was stopped"
