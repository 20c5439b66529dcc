"""Worker and beat processes and the sender app, for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from celery import Celery

from metasync.embedded import Workers, beat_command
from metasync.models import MetaConnection
from workers.client import sender_app as client_app

__all__ = ["QUICK_REDELIVERY_ENV", "STALL_CHECK_ENV", "Workers", "client_app", "start_beat"]

# Settings the scenarios with dying workers share: report jobs polled every second, a short
# visibility timeout so a dead worker's tasks come back within seconds, a generous budget.
QUICK_REDELIVERY_ENV = {
    "META_REPORT_POLL_SECONDS": "1",
    "META_REPORT_STUCK_SECONDS": "2",
    "BROKER_VISIBILITY_TIMEOUT_SECONDS": "6",
    "META_RATE_LIMIT_CALLS_PER_HOUR": "5000",
}
# For modules that run beat for its check for stalled runs: every 2 s, and no sync scheduled
# within a test.
STALL_CHECK_ENV = {
    "RUN_RECOVERY_INTERVAL_SECONDS": "2",
    "RUN_STALL_SECONDS": "15",
    "META_SYNC_INTERVAL_MINUTES": "600",
    "PERFORMANCE_SYNC_INTERVAL_MINUTES": "600",
}


def start_beat(env: dict[str, str], folder: Path, name: str = "beat") -> subprocess.Popen[bytes]:
    """``celery beat`` with ``env`` as its whole environment (plus PATH), logging to
    ``folder/<name>.log``; the caller terminates it."""
    with (folder / f"{name}.log").open("wb") as out:
        return subprocess.Popen(
            beat_command(folder / f"{name}-schedule"),
            env={"PATH": os.environ.get("PATH", ""), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def enqueue_sync(client: Celery, connection: MetaConnection, kind: str) -> None:
    """Ask the workers for one run of ``kind`` of ``connection``, as beat does."""
    client.send_task(
        "metasync.sync_connection",
        args=[str(connection.pk)],
        kwargs={"kind": kind, "trigger": "test"},
    )
