"""Where a sync's time goes: an inline entity sync and performance sync under cProfile, the
time split into Graph calls (waiting for the sandbox), MongoDB (page writes, bookkeeping),
Redis (rate governor, locks) and our own Python, beside the MongoDB server's raw bulk-upsert
speed for the same documents.

    .venv/bin/python -m bench.profile_sync                 # 4 accounts of 200 ads each
    .venv/bin/python -m bench.profile_sync --small 200     # 200 small accounts (2 ads each)
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections import Counter
from typing import Any

from pymongo import monitoring

from bench.common import bench_services, connected, save, table
from bench.entity_sync import raw_bulk_speed
from bench.scale import small_world
from metasync import db
from metasync.models import SyncRun
from metasync.sandbox.world import WorldSize
from metasync.sync import run_inline
from metasync.sync.connections import add_connection
from metasync.sync.periods import Period

SIZE = WorldSize(
    users=1,
    accounts_per_user=4,
    campaigns_per_account=10,
    adsets_per_campaign=4,
    ads_per_adset=5,
    days=7,
)


class CommandCounter(monitoring.CommandListener):
    """Counts MongoDB commands by name (and by collection for writes)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.seconds = 0.0  # round trips, as the driver timed them

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self.counts[f"{event.command_name} {target if isinstance(target, str) else ''}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.seconds += event.duration_micros / 1e6

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.seconds += event.duration_micros / 1e6


COMMANDS = CommandCounter()
monitoring.register(COMMANDS)


def cumulative(stats: pstats.Stats, path: str, function: str) -> float:
    """Cumulative seconds in one function (every call, nested time included)."""
    entries = stats.stats.items()  # type: ignore[attr-defined]
    return sum(c[3] for (f, _, name), c in entries if f.endswith(path) and name == function)


def split(stats: pstats.Stats, total: float, mongo: float) -> dict[str, float]:
    """Seconds waiting for the sandbox (HTTP), for MongoDB (the driver's round trips), for
    Redis (governor, locks), and the rest (our Python, mongoengine, JSON)."""
    http = cumulative(stats, "requests/sessions.py", "request")
    redis_wait = cumulative(stats, "redis/client.py", "execute_command") + cumulative(
        stats, "redis/client.py", "execute"
    )
    return {
        "Graph calls (HTTP to the sandbox)": http,
        "MongoDB round trips": mongo,
        "Redis (governor, locks)": redis_wait,
        "everything else (mapping, mongoengine, JSON)": max(0.0, total - http - mongo - redis_wait),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=0, help="that many small accounts instead")
    options = parser.parse_args()
    size = small_world(1, options.small) if options.small else SIZE
    results: dict[str, Any] = {"world": size.__dict__}
    with bench_services("profile", seed=5, size=size) as services:
        env = services.environment("bench_profile", LOG_LEVEL="WARNING")
        ctx = connected(env)
        connection = add_connection(ctx, "tenant", services.info["users"][0]["token"])
        rows = []
        for kind, kwargs in (
            ("entities", {"full": True}),
            ("performance", {"period": Period(preset="last_7d")}),
        ):
            COMMANDS.counts.clear()
            COMMANDS.seconds = 0.0
            profile = cProfile.Profile()
            started = time.monotonic()
            profile.enable()
            start = run_inline(ctx, str(connection.pk), kind=kind, **kwargs)  # type: ignore[arg-type]
            profile.disable()
            seconds = time.monotonic() - started
            run = SyncRun.objects.get(pk=start.run_id)
            written = (
                sum(int(v) for v in run.rows.values())
                if kind == "performance"
                else sum(int(v) for k, v in run.entities.items() if k != "accounts")
            )
            subtasks = run.subtasks_done
            commands = dict(COMMANDS.counts.most_common())
            print(f"\n{kind}: {subtasks} subtasks, MongoDB commands per subtask:")
            for name, count in commands.items():
                print(f"  {count / max(1, subtasks):6.2f}  {name}")
            stats = pstats.Stats(profile)
            parts = split(stats, seconds, COMMANDS.seconds)
            raw = raw_bulk_speed(
                services.mongo.url, "bench_profile", insights=kind == "performance"
            )
            results[kind] = {
                "written": written,
                "seconds": seconds,
                "per_second": written / seconds,
                "raw_bulk_per_second": raw["per_second"],
                "ratio_to_raw": written / seconds / raw["per_second"],
                "split_seconds": parts,
                "api_calls": run.api_calls,
                "subtasks": subtasks,
                "mongo_commands": commands,
                "mongo_commands_per_subtask": sum(commands.values()) / max(1, subtasks),
            }
            for part, own in parts.items():
                rows.append([kind, part, round(own, 2), round(100 * own / sum(parts.values()), 1)])
            print(f"\n{kind}: top functions by own time")
            stats.sort_stats("tottime").print_stats(12)
        db.disconnect()
    print(table(["sync", "where", "seconds", "%"], rows))
    for kind in ("entities", "performance"):
        r = results[kind]
        print(
            f"{kind}: {r['written']} written in {r['seconds']:.1f} s = {r['per_second']:.0f}/s;"
            f" raw bulk {r['raw_bulk_per_second']:.0f}/s; ratio {r['ratio_to_raw']:.2f}"
        )
    name = f"profile_sync_small{options.small}" if options.small else "profile_sync"
    print(f"saved {save(name, results)}")


if __name__ == "__main__":
    main()
