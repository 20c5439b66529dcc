"""Running the sandbox: in this process (``metasync sandbox serve``) or as a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import requests
import uvicorn

from metasync.embedded import EmbeddedService, ServiceStartError, free_port, wait_for_port
from metasync.sandbox.app import build_app
from metasync.sandbox.faults import FaultProfile
from metasync.sandbox.state import SandboxConfig, SandboxState
from metasync.sandbox.usage import Budgets
from metasync.sandbox.world import WorldSize, generate_world

__all__ = ["SandboxControl", "build_state", "describe", "serve", "start_sandbox"]


class SandboxControl:
    """A client of a running sandbox's control API (``/_sandbox/``): the tests and benchmarks
    read its ground truth and counters and change its faults, budgets and world with it."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.url = url
        self.timeout = timeout  # seconds; the ground truth of a large world takes a while
        self.http = requests.Session()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """``method`` ``/_sandbox/<path>`` with a JSON ``body``; returns the JSON answer."""
        response = self.http.request(
            method, f"{self.url}/_sandbox/{path}", json=body, timeout=self.timeout
        )
        response.raise_for_status()
        return response.json()

    def truth(self) -> dict[str, Any]:
        """The world as Meta would report it (every object, and insights rows)."""
        truth: dict[str, Any] = self.control("GET", "ground-truth")
        return truth

    def report_truth(
        self, report: dict[str, Any], account_id: str, since: str, until: str
    ) -> list[dict[str, Any]]:
        """What a complete read of ``report`` (a definition as a dict) returns for one account
        over since..until (YYYY-MM-DD)."""
        rows: list[dict[str, Any]] = self.control(
            "POST",
            "ground-truth/report",
            {"report": report, "account_id": account_id, "since": since, "until": until},
        )
        return rows

    def graph_calls(self) -> int:
        """Graph calls counted since the counters were last reset (``POST counters``)."""
        return int(self.control("GET", "counters")["graph_calls"])


def build_state(
    *,
    seed: int,
    size: WorldSize,
    config: SandboxConfig,
    faults: FaultProfile,
    budgets: Budgets,
    now: datetime | None = None,
) -> SandboxState:
    """The world for ``seed`` at ``now`` (default: the start of this hour, so restarts within
    the hour serve the same insights window)."""
    moment = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    world = generate_world(seed, size, now=moment, app_id=config.app_id)
    return SandboxState(world, config, faults=faults, budgets=budgets)


def describe(info: dict[str, Any]) -> str:
    """What a client needs to connect, for the terminal. Every value is fake."""
    lines = [
        f"metasync sandbox (seed {info['seed']}) serving the Graph API at {info['graph_url']}",
        f"  META_GRAPH_URL={info['base_url']}  META_API_VERSION={info['api_version']}",
        f"  META_ADS_API_URL={info['ads_api_url']} (Meta's Feature Settings API)",
        f"  META_APP_ID={info['app_id']}  META_APP_SECRET={info['app_secret'] or '(unchecked)'}",
        f"  control API: {info['base_url']}/_sandbox/ (info, ground-truth, counters, faults,"
        " budgets, mutate, webhooks/send, insights/today, tokens/expire, leads/new,"
        " ground-truth/leads)",
        "  users (fake tokens):",
    ]
    for user in info["users"]:
        lines.append(
            f"    {user['name']} id={user['id']} token={user['token']} "
            f"accounts={','.join(user['ad_account_ids'])}"
        )
    return "\n".join(lines)


def serve(state: SandboxState, host: str, port: int, *, quiet: bool = False) -> None:
    """Serve until interrupted (uvicorn handles SIGINT/SIGTERM)."""
    if not quiet:
        print(describe(state.info(f"http://{host}:{port}")), flush=True)
    uvicorn.run(build_app(state), host=host, port=port, log_level="warning", access_log=False)


def start_sandbox(
    workdir: Path,
    *,
    seed: int = 1,
    port: int | None = None,
    size: WorldSize | None = None,
    faults: dict[str, Any] | None = None,
    budgets: dict[str, Any] | None = None,
    app_secret: str = "sandbox-app-secret",  # noqa: S107
    require_appsecret_proof: bool = True,
    api_versions: tuple[str, ...] | None = None,
    app_created: date | None = None,
    auto_upgrade_versions: bool = False,
    timeout: float = 30.0,
) -> tuple[EmbeddedService, dict[str, Any]]:
    """Start ``metasync sandbox serve`` as a child process; returns it and its ``/info``."""
    port = port or free_port()
    size = size or WorldSize()
    command = [
        sys.executable,
        "-m",
        "metasync",
        "sandbox",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--users",
        str(size.users),
        "--accounts-per-user",
        str(size.accounts_per_user),
        "--campaigns-per-account",
        str(size.campaigns_per_account),
        "--adsets-per-campaign",
        str(size.adsets_per_campaign),
        "--ads-per-adset",
        str(size.ads_per_adset),
        "--days",
        str(size.days),
        "--app-secret",
        app_secret,
        "--quiet",
        "--require-appsecret-proof" if require_appsecret_proof else "--no-require-appsecret-proof",
    ]
    if size.lead_forms_per_page:
        command += ["--lead-forms-per-page", str(size.lead_forms_per_page)]
        command += ["--leads-per-form", str(size.leads_per_form)]
    if api_versions:
        command += ["--api-versions", ",".join(api_versions)]
    if app_created:
        command += ["--app-created", app_created.isoformat()]
    if auto_upgrade_versions:
        command.append("--auto-upgrade-versions")
    if faults:
        command += ["--faults", json.dumps(faults)]
    if budgets:
        command += ["--budgets", json.dumps(budgets)]
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"sandbox-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if not wait_for_port(port, timeout, process):
        process.kill()
        raise ServiceStartError(f"the sandbox did not start on port {port}; see {log_path}")
    url = f"http://127.0.0.1:{port}"
    info: dict[str, Any] = requests.get(f"{url}/_sandbox/info", timeout=10).json()
    return EmbeddedService("sandbox", url, port, process, log_path), info
