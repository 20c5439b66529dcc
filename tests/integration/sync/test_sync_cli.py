"""``metasync connections`` and ``metasync sync --inline`` / ``runs``, as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from metasync.models import MetaConnection, RunStatus, SyncRun
from metasync.sync import SyncContext
from tests.support.sandbox import Sandbox


def metasync(
    args: list[str],
    env: dict[str, str],
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metasync", *args],
        input=stdin,
        env={"PATH": os.environ.get("PATH", ""), "COLUMNS": "250", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_add_list_show_sync_runs_remove(world: Sandbox, sync_env: dict[str, str]) -> None:
    user = world.user()
    token = user["token"]
    added = metasync(
        ["connections", "add", "--tenant", "acme", "--token-stdin"], sync_env, stdin=token + "\n"
    )
    assert added.returncode == 0, added.stderr
    assert "2 ad account(s)" in added.stdout and token not in added.stdout + added.stderr
    connection = MetaConnection.objects.get(tenant_id="acme")
    assert connection.ad_account_ids == [a.removeprefix("act_") for a in user["ad_account_ids"]]
    raw = MetaConnection._get_collection().find_one({"_id": connection.pk})
    assert token not in repr(raw)

    listed = metasync(["connections", "list"], sync_env)
    assert str(connection.pk) in listed.stdout and "ACTIVE" in listed.stdout
    shown = metasync(["connections", "show", str(connection.pk)], sync_env)
    assert "tenant_id: acme" in shown.stdout and token not in shown.stdout

    synced = metasync(["sync", "--connection", str(connection.pk), "--inline"], sync_env)
    assert synced.returncode == 0, synced.stderr
    assert "succeeded" in synced.stdout
    run = SyncRun.objects.get(connection_id=str(connection.pk))
    assert run.status == RunStatus.SUCCEEDED and run.trigger == "cli"
    runs = metasync(["runs"], sync_env)
    assert str(run.pk) in runs.stdout and "succeeded" in runs.stdout

    removed = metasync(["connections", "remove", str(connection.pk), "--yes"], sync_env)
    assert removed.returncode == 0 and MetaConnection.objects.count() == 0


def test_token_from_an_environment_variable_and_explicit_accounts(
    world: Sandbox, sync_env: dict[str, str]
) -> None:
    user = world.user(1)
    first = user["ad_account_ids"][0]
    added = metasync(
        [
            "connections",
            "add",
            "--tenant",
            "globex",
            "--token-env",
            "MY_TOKEN",
            "--accounts",
            first,
        ],
        {**sync_env, "MY_TOKEN": user["token"]},
    )
    assert added.returncode == 0, added.stderr
    assert MetaConnection.objects.get(tenant_id="globex").ad_account_ids == [
        first.removeprefix("act_")
    ]
    missing = metasync(["connections", "add", "--tenant", "x", "--token-env", "NOPE"], sync_env)
    assert missing.returncode == 2 and "NOPE is not set" in missing.stderr


def test_refused_token_is_reported_not_stored(world: Sandbox, sync_env: dict[str, str]) -> None:
    result = metasync(
        ["connections", "add", "--tenant", "t", "--token-stdin"],
        sync_env,
        stdin="sbx-forged-token\n",
    )
    assert result.returncode == 1 and "Meta refused the token" in result.stderr
    assert "sbx-forged-token" not in result.stderr
    assert MetaConnection.objects.count() == 0


def test_sync_performance_inline_and_argument_errors(
    world: Sandbox, sync_env: dict[str, str]
) -> None:
    user = world.user()
    world.control("POST", "faults", {"job_seconds": 0.2})
    sync_env = {**sync_env, "META_REPORT_POLL_SECONDS": "1"}
    assert (
        metasync(
            ["connections", "add", "--tenant", "acme", "--token-stdin"],
            sync_env,
            stdin=user["token"] + "\n",
        ).returncode
        == 0
    )
    both = metasync(["sync", "--performance", "--inline"], sync_env)
    assert both.returncode == 0, both.stderr
    assert "entities run" in both.stdout and "performance run" in both.stdout
    week = metasync(
        [
            "sync-performance",
            "--inline",
            "--date-preset",
            "last_7d",
            "--level",
            "campaign",
            "--level",
            "ad",
        ],
        sync_env,
    )
    assert week.returncode == 0, week.stderr
    run = SyncRun.objects(kind="performance").order_by("-started_at").first()
    assert run.status == RunStatus.SUCCEEDED and set(run.rows) == {"campaign", "ad"}
    assert run.period["kind"] == "explicit"
    for bad, message in (
        (["--date-preset", "forever"], "--date-preset must be one of"),
        (["--since", "2026-13-01"], "YYYY-MM-DD"),
        (["--level", "creative"], "--level must be"),
        (["--date-preset", "last_7d", "--since", "2026-01-01"], "not both"),
    ):
        result = metasync(["sync-performance", "--inline", *bad], sync_env)
        assert result.returncode == 2 and message in result.stderr, result.stderr


def test_loop_stops_cleanly_on_sigterm_and_releases_its_lock(
    world: Sandbox, sync_env: dict[str, str], ctx: SyncContext
) -> None:
    import signal
    import time

    user = world.user()
    assert (
        metasync(
            ["connections", "add", "--tenant", "acme", "--token-stdin"],
            sync_env,
            stdin=user["token"] + "\n",
        ).returncode
        == 0
    )
    connection = MetaConnection.objects.get(tenant_id="acme")
    world.control("POST", "faults", {"latency_ms": 300})  # a run long enough to interrupt
    process = subprocess.Popen(
        [sys.executable, "-m", "metasync", "sync", "--inline", "--loop", "--interval", "1"],
        env={"PATH": os.environ.get("PATH", ""), **sync_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and not SyncRun.objects(connection_id=str(connection.pk)).count()
    ):
        time.sleep(0.05)
    time.sleep(0.5)  # now inside the run
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in out
    run = SyncRun.objects.get(connection_id=str(connection.pk))
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.errors[-1]["type"] == "Interrupted"
    assert ctx.sync_lock(str(connection.pk)).holder() is None


def test_operator_errors_are_one_line_and_tracebacks_need_debug(
    world: Sandbox, sync_env: dict[str, str]
) -> None:
    """Before: a throttled ``sync-performance`` printed a boxed traceback, and ``runs`` with
    MongoDB away printed pymongo's topology description."""
    token = world.user()["token"]
    added = metasync(
        ["connections", "add", "--tenant", "t", "--token-stdin"], sync_env, token + "\n"
    )
    assert added.returncode == 0, added.stderr
    world.control("POST", "budgets", {"app": 0})  # Meta: (#4) Application request limit reached
    throttled = metasync(["sync-performance", "--inline"], {**sync_env, "LOG_LEVEL": "WARNING"})
    assert throttled.returncode == 1
    lines = throttled.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Meta throttles this connection")
    assert "try again in 300 s" in lines[0] and "Traceback" not in throttled.stderr

    away = {**sync_env, "MONGODB_URI": "mongodb://127.0.0.1:9/metasync", "LOG_LEVEL": "WARNING"}
    for args in (["runs"], ["connections", "list"]):
        result = metasync(args, away)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: MongoDB does not answer"), lines
    debug = metasync(["runs", "--debug"], away)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_an_interrupt_during_the_start_closes_the_run_and_frees_the_lock(
    world: Sandbox, ctx: SyncContext, connections: list[MetaConnection], monkeypatch: Any
) -> None:
    """Ctrl-C or SIGTERM while a run is starting (its document saved, its accounts still being
    read) closes it as failed, as one in its subtasks does; it never stays "running"."""
    import pytest

    from metasync.sync import run_inline
    from metasync.sync import start as starting

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt("signal 15")

    monkeypatch.setattr(starting, "maybe_refresh_token", interrupted)
    connection = connections[0]
    with pytest.raises(KeyboardInterrupt):
        run_inline(ctx, str(connection.pk))
    [run] = SyncRun.objects(connection_id=str(connection.pk))
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.errors[-1]["type"] == "Interrupted"
    assert ctx.sync_lock(str(connection.pk), "entities").holder() is None
