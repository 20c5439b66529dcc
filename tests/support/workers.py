"""Worker and beat processes and the sender app, for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from metasync.embedded import Workers, beat_command
from workers.client import sender_app as client_app

__all__ = ["Workers", "client_app", "start_beat"]


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
