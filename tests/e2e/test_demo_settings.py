"""The running demo is reachable from a shell with what it prints: its settings file (mode
0600, the secrets only there) makes ``metasync runs`` work, the ``/metrics`` line works with the
scrape token, and the user's own settings reach the demo's processes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metasync.settings_file import read_settings_file

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

USERS_TOKEN = "scrape-token-of-the-user-0123456789"


def _shell(line: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``line`` pasted into bash, as a person would."""
    return subprocess.run(
        ["bash", "-c", line],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_printed_lines_reach_the_running_demo(tmp_path: Path) -> None:
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "COLUMNS": "80"}
    users = {
        "ALERT_WEBHOOK_URL": "http://127.0.0.1:9/alerts",
        "FX_RATES_URL": str(tmp_path / "eurofxref-hist.csv"),
        "METRICS_TOKEN": USERS_TOKEN,
    }
    workdir = tmp_path / "demo"
    demo = subprocess.Popen(  # fixed argv, no shell
        [sys.executable, "-m", "metasync", "demo", "--small", "--workdir", str(workdir)],
        env={**environment, **users},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + 240
    try:
        for line in demo.stdout:
            printed.append(line.rstrip("\n"))
            if "sandbox control API" in line or time.monotonic() > deadline:
                break
        out = "\n".join(printed)
        assert "sandbox control API" in out, out[-3000:]
        assert "your settings on top of the demo's: ALERT_WEBHOOK_URL, FX_RATES_URL, " in out
        file = workdir / "demo.env"
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        settings = read_settings_file(file)
        for name, value in users.items():
            assert settings[name] == value, name  # what the demo's processes got
        for secret in ("ENCRYPTION_KEY", "META_APP_SECRET", "METRICS_TOKEN"):
            assert settings[secret] not in out, f"{secret} is printed"
        [cli] = [line.strip() for line in printed if line.strip().endswith(f"{file} runs")]
        assert "--env-file" in cli
        runs = _shell(cli, environment)
        assert runs.returncode == 0, runs.stderr
        assert "succeeded" in runs.stdout and "demo-tenant-1" in runs.stdout
        [metrics] = [line for line in printed if "Prometheus metrics" in line]
        scrape = _shell(metrics.split(": ", 1)[1], environment)
        assert scrape.returncode == 0, scrape.stderr
        assert "metasync_" in scrape.stdout and "scrape token is required" not in scrape.stdout
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=60)
