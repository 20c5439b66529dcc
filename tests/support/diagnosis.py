"""What an end-to-end test prints when runs do not end: every subtask that never finished, the
log lines of the tasks that worked on it, and what the broker holds under the test's prefix."""

from __future__ import annotations

import re
from pathlib import Path

import redis

from metasync.models import RunStatus, SyncRun

__all__ = ["stuck_runs_report"]

TASK_ID = re.compile(r"\[([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\]")


def _task_lines(lines: list[str], key: str) -> list[str]:
    """Every line of the tasks that logged working on subtask ``key``, in time order."""
    ids = {
        match.group(1)
        for line in lines
        if f"subtask {key} " in line
        for match in [TASK_ID.search(line)]
        if match
    }
    return sorted(line for line in lines if any(task_id in line for task_id in ids))


def _broker_lines(client: redis.Redis, prefix: str) -> list[str]:
    lines = []
    sizes = {b"list": client.llen, b"hash": client.hlen, b"zset": client.zcard}
    for name in sorted(client.scan_iter(f"{prefix}*")):
        kind = client.type(name)
        size = sizes.get(kind)
        lines.append(f"redis {name.decode()} {kind.decode()} {size(name) if size else ''}")
        if kind == b"hash" and name.endswith(b"unacked"):
            lines += [f"  {tag!r}: {body[:300]!r}" for tag, body in client.hgetall(name).items()]
        if kind == b"list":
            lines += [f"  {body[:300]!r}" for body in client.lrange(name, 0, 20)]
    return lines


def stuck_runs_report(redis_url: str, prefix: str, log_dir: Path) -> str:
    logs = [
        line
        for path in sorted(log_dir.rglob("worker-*.log"))
        for line in path.read_text(errors="replace").splitlines()
    ]
    report = []
    for run in SyncRun.objects(status=RunStatus.RUNNING):
        for key in sorted(str(entry.get("key")) for entry in (run.inflight or {}).values()):
            report.append(f"run {run.pk} ({run.kind}): subtask {key} never finished")
            report += [f"  {line[:300]}" for line in _task_lines(logs, key)]
    client = redis.Redis.from_url(redis_url)
    try:
        report += _broker_lines(client, prefix)
    except redis.exceptions.RedisError as exc:
        report.append(f"the broker could not be read: {exc}")
    finally:
        client.close()
    return "\n".join(report)
