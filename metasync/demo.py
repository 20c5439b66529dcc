"""``metasync demo``: the whole service on one machine, on embedded defaults.

Without ``MONGODB_URI`` / ``REDIS_URL`` it starts a SecantusDB server and a Redis server (on a
unix socket, so Celery runs over ``redis+socket://``) in ``.metasync/demo``; then the sandbox,
two worker processes, beat, Flower (``metasync flower``: a generated password, read-only) and
the web app; adds one connection per sandbox user (each its own tenant); runs a full entity
sync then a performance sync, shows progress, and prints a summary and where to look next.
``--once`` stops everything after the first sync; otherwise the schedule keeps syncing until
Ctrl-C, then everything shuts down.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metasync.config import Settings
from metasync.console.auth import hash_password
from metasync.embedded import (
    EmbeddedService,
    Workers,
    beat_command,
    free_port,
    start_mongo,
    start_redis,
    wait_for_port,
    web_command,
)
from metasync.sandbox.server import start_sandbox
from metasync.sandbox.world import WorldSize
from metasync.settings_file import write_settings_file

__all__ = [
    "DEMO_OWNS",
    "DemoServices",
    "demo_environment",
    "metasync_command",
    "start_services",
    "users_settings",
]

SMALL = WorldSize(
    users=2,
    accounts_per_user=2,
    campaigns_per_account=3,
    adsets_per_campaign=2,
    ads_per_adset=2,
    days=30,
)
FULL = WorldSize(
    users=3,
    accounts_per_user=2,
    campaigns_per_account=8,
    adsets_per_campaign=3,
    ads_per_adset=4,
    days=30,
)
FLOWER_USER = "demo"
CONSOLE_USER = "ops"
# what the demo's own services need: its sandbox's app and address, the logins it prints
DEMO_OWNS = frozenset(
    {
        "META_APP_ID",
        "META_APP_SECRET",
        "META_GRAPH_URL",
        "META_ADS_API_URL",
        "META_API_VERSION",
        "CONSOLE_USERS",
        "FLOWER_BASIC_AUTH",
    }
)
SETTINGS_FILE = "demo.env"


@dataclass
class DemoServices:
    env: dict[str, str]
    sandbox_url: str
    sandbox_info: dict[str, Any]
    flower_url: str
    flower_password: str
    web_url: str
    mongodb_uri: str
    console_password: str
    workdir: Path  # the demo's files (the warehouse's DuckDB files among them)
    settings_file: Path  # every setting the demo's processes run with, mode 0600


def _process(
    command: list[str], env: dict[str, str], log: Path, port: int | None, name: str
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    if port is not None and not wait_for_port(port, 60, process):
        process.kill()
        raise RuntimeError(f"{name} did not start; see {log}")
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def users_settings(base: dict[str, str]) -> dict[str, str]:
    """The settings of ``base`` (the user's environment) the demo takes on top of its own
    defaults: every metasync variable set there (``ALERT_WEBHOOK_URL``, ``FX_RATES_URL``,
    ``METRICS_TOKEN``...) but those its sandbox and logins need (:data:`DEMO_OWNS`)."""
    return {
        name: value
        for name, value in base.items()
        if name in Settings.model_fields and name not in DEMO_OWNS and value
    }


def demo_environment(
    base: dict[str, str], *, mongodb_uri: str, redis_url: str, sandbox_info: dict[str, Any]
) -> dict[str, str]:
    """The settings every demo process gets: the demo's defaults (the sandbox's fake app id and
    secret, a fresh encryption key and scrape token), the user's own settings on top
    (:func:`users_settings`), then the MongoDB and Redis the demo runs on."""
    defaults = {
        "META_APP_ID": sandbox_info["app_id"],
        "META_APP_SECRET": sandbox_info["app_secret"],
        "META_APP_VERIFY_TOKEN": "demo-verify-token",
        "META_GRAPH_URL": sandbox_info["base_url"],
        "META_ADS_API_URL": sandbox_info["ads_api_url"],
        "META_API_VERSION": sandbox_info["api_version"],
        "ENCRYPTION_KEY": secrets.token_hex(32),
        "REDIS_KEY_PREFIX": "demo:",
        "META_REPORT_POLL_SECONDS": "2",
        "META_SYNC_INTERVAL_MINUTES": "30",
        "PERFORMANCE_SYNC_INTERVAL_MINUTES": "15",
        "LOG_LEVEL": "INFO",
        "METRICS_TOKEN": secrets.token_urlsafe(24),
        # the sandbox's rates in the ECB's shape: the ECB's own file cannot cover the sandbox's
        # currencies offline, and without rates a reporting currency converts no day
        "FX_RATES_URL": f"{sandbox_info['base_url']}/_sandbox/ecb/eurofxref-hist.csv",
    }
    return {
        "PATH": base.get("PATH", ""),
        "HOME": base.get("HOME", "/tmp"),  # noqa: S108
        **defaults,
        **users_settings(base),
        "MONGODB_URI": mongodb_uri,
        "REDIS_URL": redis_url,
    }


def metasync_command() -> str:
    """How to run ``metasync`` from a shell, pasted as printed: ``metasync`` when that is this
    installation's, else the path of this interpreter's ``metasync`` script, else
    ``python -m metasync`` with this interpreter (the one that has metasync's dependencies)."""
    script = Path(sys.executable).parent / "metasync"
    found = shutil.which("metasync")
    if found and Path(found).absolute() == script.absolute():
        return "metasync"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m metasync"


@contextmanager
def start_services(
    workdir: Path, *, small: bool, base_env: dict[str, str], say: Callable[[str], None]
) -> Iterator[DemoServices]:
    """Start everything; stop it all (in reverse order) when the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        mongodb_uri = base_env.get("MONGODB_URI") or ""
        redis_url = base_env.get("REDIS_URL") or ""
        if not mongodb_uri:
            mongo: EmbeddedService = start_mongo(workdir / "mongodb")
            stack.callback(mongo.stop)
            mongodb_uri = f"{mongo.url}metasync_demo"
            say(f"started an embedded MongoDB-wire server (SecantusDB) at {mongo.url}")
        if not redis_url:
            redis_server = start_redis(workdir / "redis", unix_socket=True, appendonly=True)
            stack.callback(redis_server.stop)
            redis_url = f"unix://{redis_server.socket_path}"
            say(f"started an embedded Redis at {redis_url}")
        sandbox, info = start_sandbox(workdir / "sandbox", seed=1, size=SMALL if small else FULL)
        stack.callback(sandbox.stop)
        say(f"started the Graph API sandbox at {info['graph_url']}")
        env = demo_environment(
            base_env, mongodb_uri=mongodb_uri, redis_url=redis_url, sandbox_info=info
        )
        console_password = secrets.token_urlsafe(12)
        env["CONSOLE_USERS"] = f"{CONSOLE_USER}:{hash_password(console_password)}"
        workers = Workers(env, workdir, count=2).start()
        stack.callback(workers.stop)
        say("started 2 worker processes")
        beat_log = workdir / "beat.log"
        beat = _process(beat_command(workdir / "beat-schedule"), env, beat_log, None, "beat")
        stack.callback(_stop, beat)
        # the production launcher: the same password checks, read-only, on 127.0.0.1
        flower_port, password = free_port(), secrets.token_hex(16)
        flower = _process(
            [sys.executable, "-m", "metasync", "flower", "--port", str(flower_port)],
            {**env, "FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{password}"},
            workdir / "flower.log",
            flower_port,
            "Flower",
        )
        stack.callback(_stop, flower)
        web_port = free_port()
        web = _process(
            web_command(web_port),
            env,
            workdir / "web.log",
            web_port,
            "the web app",
        )
        stack.callback(_stop, web)
        say("started beat, Flower and the web app (webhooks, REST API, console, metrics)")
        settings_file = workdir / SETTINGS_FILE
        write_settings_file(
            settings_file,
            {
                **{name: value for name, value in env.items() if name in Settings.model_fields},
                "FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{password}",
                "METASYNC_WEB_URL": f"http://127.0.0.1:{web_port}",
                "METASYNC_FLOWER_URL": f"http://127.0.0.1:{flower_port}",
            },
        )
        yours = sorted(users_settings(base_env))
        if yours:
            say(f"your settings on top of the demo's: {', '.join(yours)}")
        yield DemoServices(
            env,
            sandbox.url,
            info,
            f"http://127.0.0.1:{flower_port}",
            password,
            f"http://127.0.0.1:{web_port}",
            mongodb_uri,
            console_password,
            workdir,
            settings_file,
        )


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def default_workdir() -> Path:
    return Path(os.getcwd()) / ".metasync" / "demo"
