"""Agency scale: per-account cost of syncing 10, 100 and 1,000 ad accounts on one token, and 100
tenants of 10 accounts each, with real workers, default settings and the sandbox enforcing
Meta's limited-tier budgets (per ad account and use case, :mod:`metasync.budgets`).

Every account is small (2 campaigns, 2 ad sets, 2 ads, 3 days of data). For each scenario: a
full entity sync, then a performance sync of the recent 3 days (``last_3d``), each as the
scheduler sends it (one ``sync_connection`` per connection). Reported per phase: Graph calls
and wall time per account, throttling errors Meta answered, the broker queue's peak (messages
waiting), the Redis memory of metasync's keys at their peak, and the largest run document.

Fairness: in the 1,000-account scenario a second tenant with one account runs its performance
sync alone first, then again while the big tenant's performance sync is under way; both
durations are reported.

The inline part runs ``metasync sync --inline --full`` and ``metasync sync-performance --inline
--date-preset last_3d`` for a 10- and a 200-account connection (the CLI, as a user would).

    .venv/bin/python -m bench.scale            # about 15 minutes on 2 cores
    .venv/bin/python -m bench.scale --quick    # 10 and 100 accounts only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import bson
import psutil
import redis

from bench.common import REDIS_URL, BenchServices, bench_services, connected, save, table
from metasync import db
from metasync.embedded import Workers
from metasync.models import DailyInsight, MetaConnection, RunStatus, SyncRun
from metasync.sandbox.world import WorldSize
from metasync.sync.connections import add_connection
from workers.client import sender_app

THROTTLING_CODES = ("4", "17", "32", "613", "80000", "80004")


def small_world(users: int, accounts: int) -> WorldSize:
    return WorldSize(
        users=users,
        accounts_per_user=accounts,
        campaigns_per_account=2,
        adsets_per_campaign=1,
        ads_per_adset=1,
        days=3,
    )


class Sampler:
    """Samples the broker queue's length (every 0.25 s) and the Redis memory of a key prefix
    (every 5 s, and at the end) in a thread. Cheap on purpose: the broker's queue keys are
    read by name, and memory is summed over one pipelined pass of the prefix's keys."""

    QUEUE_SUFFIXES = ("celery", "celery\x06\x163", "celery\x06\x166", "celery\x06\x169")

    def __init__(self, prefix: str, every: float = 0.25) -> None:
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.prefix, self.every = prefix, every
        self.queue_peak = self.memory_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            pipe = self.redis.pipeline(transaction=False)
            for suffix in self.QUEUE_SUFFIXES:
                pipe.llen(f"{self.prefix}{suffix}")
            self.queue_peak = max(self.queue_peak, sum(int(n) for n in pipe.execute()))
            if tick % 20 == 0:
                self.memory_peak = max(self.memory_peak, self.memory())
            tick += 1
            self._stop.wait(self.every)

    def memory(self) -> int:
        keys = list(self.redis.scan_iter(match=f"{self.prefix}*", count=5000))
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.memory_usage(key)
        return sum(int(n or 0) for n in pipe.execute())

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.memory_peak = max(self.memory_peak, self.memory())


def largest_run_document() -> int:
    return max(
        (len(bson.encode(raw)) for raw in SyncRun._get_collection().find()),
        default=0,
    )


def wait_for_runs(kind: str, count: int, timeout: float = 3600.0) -> list[SyncRun]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(SyncRun.objects(kind=kind))
        if len(runs) >= count and all(r.status != RunStatus.RUNNING for r in runs):
            return runs
        time.sleep(0.25)
    raise TimeoutError(f"{kind} runs did not finish within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children so far."""
    process = psutil.Process(pid)
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def cpu_of(services: BenchServices, workers: Workers) -> dict[str, float]:
    """CPU seconds so far of the MongoDB-wire server and of the worker processes."""
    return {
        "mongo": cpu_seconds(services.mongo.process.pid),
        "workers": sum(cpu_seconds(p.pid) for p in workers.processes),
    }


def phase(
    services: BenchServices,
    workers: Workers,
    send: Callable[[], None],
    kind: str,
    runs_expected: int,
    accounts: int,
    during: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Send a phase's syncs, wait for their runs, and measure."""
    services.sandbox.control("POST", "counters")
    cpu_before = cpu_of(services, workers)
    started = time.monotonic()
    extra: dict[str, Any] = {}
    with Sampler(services.prefix) as sampler:
        send()
        if during is not None:
            extra = during()
        runs = wait_for_runs(kind, runs_expected)
        seconds = time.monotonic() - started
    cpu_after = cpu_of(services, workers)
    counters = services.sandbox.control("GET", "counters")
    throttled = sum(int(counters["by_error_code"].get(code, 0)) for code in THROTTLING_CODES)
    statuses = sorted({r.status for r in runs})
    return {
        "accounts": accounts,
        "runs": len(runs),
        "statuses": statuses,
        "calls": counters["graph_calls"],
        "calls_per_account": counters["graph_calls"] / accounts,
        "seconds": seconds,
        "seconds_per_account": seconds / accounts,
        "throttling_errors": throttled,
        "errors_by_code": counters["by_error_code"],
        "queue_peak": sampler.queue_peak,
        "redis_bytes_peak": sampler.memory_peak,
        "largest_run_document_bytes": largest_run_document(),
        "mongo_cpu_seconds_per_account": (cpu_after["mongo"] - cpu_before["mongo"]) / accounts,
        "workers_cpu_seconds_per_account": (cpu_after["workers"] - cpu_before["workers"])
        / accounts,
        **extra,
    }


def scenario(name: str, users: int, accounts_per_user: int, fairness: bool) -> dict[str, Any]:
    """One world, one connection per user; entity then performance phases with 2 workers."""
    accounts = users * accounts_per_user
    with bench_services(
        f"scale{accounts}", seed=11, size=small_world(users, accounts_per_user)
    ) as s:
        env = s.environment(f"bench_scale_{name}")
        ctx = connected(env)
        connections = [
            add_connection(ctx, f"tenant-{i}", user["token"])
            for i, user in enumerate(s.info["users"])
        ]
        small = None
        if fairness:  # a one-account tenant beside the big one (same token, own tenant)
            first = s.info["users"][0]["ad_account_ids"][0].removeprefix("act_")
            small = add_connection(ctx, "small-tenant", s.info["users"][0]["token"], [first])
        client = sender_app(REDIS_URL, s.prefix)
        workers = Workers(env, s.folder, count=2).start()

        def send(kind: str, group: list[MetaConnection], **kwargs: Any) -> Callable[[], None]:
            def go() -> None:
                for connection in group:
                    client.send_task(
                        "metasync.sync_connection",
                        args=[str(connection.pk)],
                        kwargs={"kind": kind, "trigger": "bench", **kwargs},
                    )

            return go

        last_3d = {"period": {"preset": "last_3d", "since": None, "until": None}}
        result: dict[str, Any] = {"scenario": name, "connections": len(connections)}
        try:
            group = connections + ([small] if small else [])
            result["entities"] = phase(
                s,
                workers,
                send("entities", group, full=True),
                "entities",
                len(group),
                accounts + (1 if small else 0),
            )
            if small is not None:
                alone = phase(
                    s, workers, send("performance", [small], **last_3d), "performance", 1, 1
                )
                result["small_tenant_alone_seconds"] = alone["seconds"]

                def small_during() -> dict[str, Any]:
                    time.sleep(2.0)  # the big run's first window is on the queue
                    before = SyncRun.objects(kind="performance").count()
                    send("performance", [small], **last_3d)()
                    started = time.monotonic()
                    while True:
                        mine = SyncRun.objects(
                            kind="performance", connection_id=str(small.pk)
                        ).order_by("-started_at")
                        latest = mine.first()
                        if (
                            SyncRun.objects(kind="performance").count() > before
                            and latest is not None
                            and latest.status != RunStatus.RUNNING
                        ):
                            return {"small_tenant_during_seconds": time.monotonic() - started}
                        time.sleep(0.1)

                result["performance"] = phase(
                    s,
                    workers,
                    send("performance", connections, **last_3d),
                    "performance",
                    len(connections) + 2,
                    accounts,
                    during=small_during,
                )
            else:
                result["performance"] = phase(
                    s,
                    workers,
                    send("performance", connections, **last_3d),
                    "performance",
                    len(connections),
                    accounts,
                )
            result["daily_rows"] = DailyInsight.objects.count()
        finally:
            workers.stop()
            db.disconnect()
    return result


def inline(accounts: int) -> dict[str, Any]:
    """``metasync sync --inline --full`` then ``sync-performance --inline --date-preset
    last_3d`` on one connection of ``accounts`` small accounts, through the CLI."""
    with bench_services(f"inline{accounts}", seed=11, size=small_world(1, accounts)) as s:
        env = s.environment(f"bench_inline_{accounts}")
        ctx = connected(env)
        connection = add_connection(ctx, "tenant", s.info["users"][0]["token"])
        cli = [sys.executable, "-m", "metasync", "--connection", str(connection.pk), "--inline"]
        commands = {
            "entities": ["sync", "--full"],
            "performance": ["sync-performance", "--date-preset", "last_3d"],
        }
        out: dict[str, Any] = {"accounts": accounts}
        for kind, words in commands.items():
            s.sandbox.control("POST", "counters")
            started = time.monotonic()
            argv = [*cli[:3], words[0], *cli[3:], *words[1:]]
            done = subprocess.run(
                argv, env={**os.environ, **env}, capture_output=True, text=True, check=False
            )
            seconds = time.monotonic() - started
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(words)} failed: {done.stderr[-2000:]}")
            counters = s.sandbox.control("GET", "counters")
            throttled = sum(
                int(counters["by_error_code"].get(code, 0)) for code in THROTTLING_CODES
            )
            out[kind] = {
                "calls_per_account": counters["graph_calls"] / accounts,
                "seconds_per_account": seconds / accounts,
                "throttling_errors": throttled,
            }
        db.disconnect()
    return out


def inline_summary(entry: dict[str, Any]) -> str:
    """One printed line of an :func:`inline` measurement: per kind, Meta calls and seconds per
    account and the throttling errors met."""
    kinds = [
        f"{k} {v['calls_per_account']:.2f} calls/acct {v['seconds_per_account']:.3f} s/acct "
        f"{v['throttling_errors']} throttled"
        for k, v in entry.items()
        if k != "accounts"
    ]
    return f"inline, {entry['accounts']} accounts: " + "; ".join(kinds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 and 100 accounts only")
    options = parser.parse_args()
    plans = [("10", 1, 10, False), ("100", 1, 100, False)]
    if not options.quick:
        plans += [("1000", 1, 1000, True), ("100x10", 100, 10, False)]
    results = [scenario(*plan) for plan in plans]
    rows = []
    for result in results:
        for kind in ("entities", "performance"):
            p = result[kind]
            rows.append(
                [
                    result["scenario"],
                    kind,
                    p["accounts"],
                    round(p["calls_per_account"], 2),
                    round(p["seconds_per_account"], 3),
                    round(p["workers_cpu_seconds_per_account"], 3),
                    round(p["mongo_cpu_seconds_per_account"], 3),
                    p["throttling_errors"],
                    p["queue_peak"],
                    round(p["redis_bytes_peak"] / 1024, 1),
                    round(p["largest_run_document_bytes"] / 1024, 1),
                    ",".join(p["statuses"]),
                ]
            )
    headers = [
        *("scenario", "phase", "accounts"),
        *("calls/acct", "s/acct", "workers CPU s/acct", "db CPU s/acct"),
        *("throttled", "queue peak", "redis KiB", "run doc KiB", "statuses"),
    ]
    print(table(headers, rows))
    for result in results:
        if "small_tenant_alone_seconds" in result:
            print(
                f"one-account tenant's performance sync: {result['small_tenant_alone_seconds']:.1f}"
                f" s alone, {result['performance']['small_tenant_during_seconds']:.1f} s beside"
                " the 1,000-account tenant's"
            )
    base = {kind: results[0][kind] for kind in ("entities", "performance")}
    ratios = {
        r["scenario"]: {
            kind: {
                "calls": r[kind]["calls_per_account"] / base[kind]["calls_per_account"],
                "seconds": r[kind]["seconds_per_account"] / base[kind]["seconds_per_account"],
            }
            for kind in base
        }
        for r in results
    }
    print("ratios to 10 accounts (per account):")
    for name, by_kind in ratios.items():
        print(
            f"  {name}: "
            + "; ".join(
                f"{k} calls {v['calls']:.3f}x time {v['seconds']:.2f}x" for k, v in by_kind.items()
            )
        )
    inlines = [inline(10), inline(200)] if not options.quick else []
    for entry in inlines:
        print(inline_summary(entry))
    path = save(
        "scale" + ("_quick" if options.quick else ""),
        {"scenarios": results, "ratios": ratios, "inline": inlines},
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
