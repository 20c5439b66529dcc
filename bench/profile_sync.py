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

import bson
from pymongo import MongoClient, monitoring

from bench.common import BenchServices, bench_services, connected, save, table
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


KINDS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("entities", {"full": True}),
    ("performance", {"period": Period(preset="last_7d")}),
)


KIND_NAMES = tuple(kind for kind, _ in KINDS)


def measure(services: BenchServices, database: str, profiled: bool) -> dict[str, dict[str, Any]]:
    """Both syncs of a fresh database, each timed (and profiled when ``profiled``), beside
    the raw bulk-upsert speed of the documents they wrote."""
    env = services.environment(database, LOG_LEVEL="WARNING")
    ctx = connected(env)
    connection = add_connection(ctx, "tenant", services.info["users"][0]["token"])
    results: dict[str, dict[str, Any]] = {}
    for kind, kwargs in KINDS:
        COMMANDS.counts.clear()
        COMMANDS.seconds = 0.0
        profile = cProfile.Profile()
        started = time.monotonic()
        if profiled:
            profile.enable()
        start = run_inline(ctx, str(connection.pk), kind=kind, **kwargs)
        profile.disable()
        seconds = time.monotonic() - started
        run = SyncRun.objects.get(pk=start.run_id)
        written = (
            sum(int(v) for v in run.rows.values())
            if kind == "performance"
            else sum(int(v) for k, v in run.entities.items() if k != "accounts")
        )
        commands = dict(COMMANDS.counts.most_common())
        mongo_seconds = COMMANDS.seconds  # before the raw comparison adds its own writes
        raw = raw_bulk_speed(services.mongo.url, database, insights=kind == "performance")
        results[kind] = {
            "written": written,
            "seconds": seconds,
            "per_second": written / seconds,
            "raw_bulk_per_second": raw["per_second"],
            "ratio_to_raw": written / seconds / raw["per_second"],
            "api_calls": run.api_calls,
            "subtasks": run.subtasks_done,
            "mongo_commands": commands,
            "mongo_commands_per_subtask": sum(commands.values()) / max(1, run.subtasks_done),
        }
        if profiled:
            stats = pstats.Stats(profile)
            results[kind]["split_seconds"] = split(stats, seconds, mongo_seconds)
            print(f"\n{kind}: top functions by own time (profiled run)")
            stats.sort_stats("tottime").print_stats(12)
    results["document_bytes"] = document_sizes(services.mongo.url, database)
    db.disconnect()
    return results


def document_sizes(mongo_url: str, database: str) -> dict[str, float]:
    """Average BSON size per collection of the mirror (for the capacity plan)."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    sizes: dict[str, float] = {}
    for name in ("campaigns", "ad_sets", "ads", "ad_creatives", "daily_insights"):
        documents = list(client[database][name].find().limit(2000))
        if documents:
            sizes[name] = sum(len(bson.encode(d)) for d in documents) / len(documents)
    client.close()
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=0, help="that many small accounts instead")
    options = parser.parse_args()
    size = small_world(1, options.small) if options.small else SIZE
    with bench_services("profile", seed=5, size=size) as services:
        plain = measure(services, "bench_profile_plain", profiled=False)
        profiled = measure(services, "bench_profile", profiled=True)
    for kind in KIND_NAMES:
        print(f"\n{kind}: {plain[kind]['subtasks']} subtasks, MongoDB commands per subtask:")
        for name, count in plain[kind]["mongo_commands"].items():
            print(f"  {count / max(1, plain[kind]['subtasks']):6.2f}  {name}")
    rows = [
        [kind, part, round(own, 2), round(100 * own / profiled[kind]["seconds"], 1)]
        for kind in ("entities", "performance")
        for part, own in profiled[kind]["split_seconds"].items()
    ]
    print(table(["sync", "where (profiled run)", "seconds", "%"], rows))
    for kind in ("entities", "performance"):
        r = plain[kind]
        print(
            f"{kind} (not profiled): {r['written']} written in {r['seconds']:.1f} s ="
            f" {r['per_second']:.0f}/s; raw bulk {r['raw_bulk_per_second']:.0f}/s;"
            f" ratio {r['ratio_to_raw']:.2f}"
        )
    print("average document bytes:", {k: round(v) for k, v in plain["document_bytes"].items()})
    name = f"profile_sync_small{options.small}" if options.small else "profile_sync"
    payload = {"world": size.__dict__, "plain": plain, "profiled": profiled}
    print(f"saved {save(name, payload)}")


if __name__ == "__main__":
    main()
