"""Shared helpers for the benchmarks: machine facts, a plain-text table, JSON results, and the
scratch services (MongoDB-wire server, sandbox world, Redis key prefix) each benchmark runs on."""

from __future__ import annotations

import json
import os
import platform
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from metasync import db
from metasync.config import load_settings
from metasync.embedded import EmbeddedService, start_mongo
from metasync.sandbox.server import SandboxControl, start_sandbox
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext

RESULTS = Path(__file__).parent / "results"
REDIS_URL = "redis://127.0.0.1:6379/0"  # the machine's Redis; each benchmark has its own prefix


@dataclass(frozen=True)
class BenchServices:
    """A scratch MongoDB-wire server and sandbox for one benchmark, and its Redis key prefix."""

    folder: Path
    mongo: EmbeddedService
    sandbox: SandboxControl
    info: dict[str, Any]  # the sandbox's /info: app id and secret, users and their tokens
    prefix: str

    def environment(self, database: str, **extra: str) -> dict[str, str]:
        """Settings pointing metasync at these services and ``database``; ``extra`` adds or
        overrides variables."""
        return {
            "META_APP_ID": self.info["app_id"],
            "META_APP_SECRET": self.info["app_secret"],
            "META_GRAPH_URL": self.sandbox.url,
            "MONGODB_URI": f"{self.mongo.url}{database}",
            "REDIS_URL": REDIS_URL,
            "ENCRYPTION_KEY": secrets.token_hex(32),
            "REDIS_KEY_PREFIX": self.prefix,
            "LOG_LEVEL": "WARNING",
            **extra,
        }


@contextmanager
def bench_services(
    name: str, seed: int, size: WorldSize, **sandbox_options: Any
) -> Iterator[BenchServices]:
    """Start the scratch services; on the way out stop them and delete the prefix's Redis keys."""
    prefix = f"bench-{name}-{secrets.token_hex(4)}:"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mongo = start_mongo(folder / "mongo")
        try:
            sandbox, info = start_sandbox(
                folder / "sandbox", seed=seed, size=size, **sandbox_options
            )
            try:
                yield BenchServices(folder, mongo, SandboxControl(sandbox.url), info, prefix)
            finally:
                sandbox.stop()
        finally:
            mongo.stop()
            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)


def connected(env: dict[str, str]) -> SyncContext:
    """MongoDB of ``env`` connected in this process, with its indexes, and a sync context."""
    db.connect(env["MONGODB_URI"])
    db.ensure_indexes()
    return SyncContext.from_settings(load_settings(env))


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [
        [f"{c:,.1f}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def save(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return path
