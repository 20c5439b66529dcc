"""The rate governor against a sandbox that enforces budgets, with a backlog of many accounts.

One connection with 8 ad accounts; the sandbox allows each account 12 calls per 30 s window
(usage headers report it); 2 workers run a full entity sync and a first performance sync of all
accounts at once. Reported: throttling errors Meta (the sandbox) answered (the goal is zero),
seconds the governor made tasks wait, and the share of each account's budget used.

    .venv/bin/python -m bench.governor
"""

from __future__ import annotations

import math
import time
from typing import Any

from bench.common import REDIS_URL, bench_services, connected, save, table
from metasync import db
from metasync.embedded import Workers
from metasync.models import RunStatus, SyncRun
from metasync.sandbox.world import WorldSize
from metasync.sync.connections import add_connection
from workers.client import sender_app

SIZE = WorldSize(
    users=1,
    accounts_per_user=8,
    campaigns_per_account=4,
    adsets_per_campaign=2,
    ads_per_adset=3,
    days=7,
)
BUDGET, WINDOW = 12, 30.0
THROTTLING_CODES = ("4", "17", "32", "613", "80000", "80004")


def main() -> None:
    with bench_services(
        "gov",
        seed=5,
        size=SIZE,
        budgets={"account": BUDGET, "business_use_case": BUDGET, "window_seconds": WINDOW},
        faults={"job_seconds": 1},
    ) as services:
        env = services.environment(
            "bench_governor",
            META_RATE_LIMIT_CALLS_PER_HOUR="5000",
            META_REPORT_POLL_SECONDS="2",
        )
        ctx = connected(env)
        connection = add_connection(ctx, "tenant", services.info["users"][0]["token"])
        services.sandbox.control("POST", "counters")
        client = sender_app(REDIS_URL, services.prefix)
        workers = Workers(env, services.folder, count=2).start()
        started = time.monotonic()
        try:
            for kind in ("entities", "performance"):
                client.send_task(
                    "metasync.sync_connection",
                    args=[str(connection.pk)],
                    kwargs={"kind": kind, "trigger": "bench"},
                )
            while True:
                runs = list(SyncRun.objects)
                if len(runs) == 2 and all(r.status != RunStatus.RUNNING for r in runs):
                    break
                time.sleep(0.2)
            elapsed = time.monotonic() - started
        finally:
            workers.stop()
        counters = services.sandbox.control("GET", "counters")
        windows = math.ceil(elapsed / WINDOW)
        shares = {
            account: calls / (BUDGET * windows) for account, calls in counters["by_account"].items()
        }
        report: dict[str, Any] = {
            "world": SIZE.__dict__,
            "budget_per_account": BUDGET,
            "window_seconds": WINDOW,
            "seconds": elapsed,
            "graph_calls": counters["graph_calls"],
            "throttling_errors": sum(counters["by_error_code"].get(c, 0) for c in THROTTLING_CODES),
            "errors_by_code": counters["by_error_code"],
            "governor_wait_seconds": sum(r.throttled_seconds for r in runs),
            "statuses": sorted({r.status for r in runs}),
            "budget_share_mean": sum(shares.values()) / len(shares),
            "budget_share_max": max(shares.values()),
        }
        db.database().client.drop_database("bench_governor")
    print(
        table(
            ["measure", "value"],
            [
                ["accounts x budget", f"8 x {BUDGET} calls / {WINDOW:.0f} s"],
                ["wall seconds", round(report["seconds"], 1)],
                ["Graph calls", report["graph_calls"]],
                ["throttling errors received", report["throttling_errors"]],
                [
                    "seconds tasks waited for the governor",
                    round(report["governor_wait_seconds"], 1),
                ],
                [
                    "budget share used, mean / max",
                    f"{report['budget_share_mean']:.2f} / {report['budget_share_max']:.2f}",
                ],
                ["run statuses", ", ".join(report["statuses"])],
            ],
        )
    )
    print(f"saved {save('governor', report)}")


if __name__ == "__main__":
    main()
