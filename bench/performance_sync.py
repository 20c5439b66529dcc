"""Performance sync: Graph API calls for 30 days of daily rows, three ways, on one world.

World: 2 users x 2 accounts x 10 campaigns x 4 ad sets x 5 ads, 30 days of insights, levels
campaign, ad set and ad. Counted by the sandbox (``graph_calls``):

- metasync's first sync (30 days: one async report job per account and level: start, polls,
  result pages of 500 rows) and its scheduled re-read of the recent 3 days (synchronous);
- the page-bound minimum: each account's details (one batch item each: multi-id reads are
  closed to apps created from 2026-11-04), plus per account and level
  ceil(rows / 500) pages (and a start and one poll for a job);
- the per-entity approach metasync replaces, replayed against the sandbox: one
  ``/{id}/insights`` call per campaign, ad set and ad (100 rows a page).

    .venv/bin/python -m bench.performance_sync
"""

from __future__ import annotations

import math
from typing import Any

from bench.common import bench_services, connected, save, table
from metasync import db
from metasync.graph import GraphClient, GraphConfig, insights_params, iter_pages
from metasync.models import SyncRun
from metasync.sandbox.server import SandboxControl
from metasync.sandbox.world import WorldSize
from metasync.sync import Period, run_inline
from metasync.sync.connections import add_connection
from metasync.sync.read.insights import INSIGHTS_PAGE_SIZE

SIZE = WorldSize(
    users=2,
    accounts_per_user=2,
    campaigns_per_account=10,
    adsets_per_campaign=4,
    ads_per_adset=5,
    days=30,
)
LEVELS = ("campaign", "adset", "ad")


def minimum(truth: dict[str, Any], users: int, async_jobs: bool) -> int:
    del users  # every account's details are read (a batch item each), whoever holds it
    calls = len(truth["accounts"])
    for account in truth["accounts"]:
        for level in LEVELS:
            rows = sum(
                1 for r in truth["insights"][level] if r["account_id"] == account["account_id"]
            )
            calls += max(1, math.ceil(rows / INSIGHTS_PAGE_SIZE)) + (2 if async_jobs else 0)
    return calls


def per_entity(sandbox: SandboxControl, info: dict[str, Any], truth: dict[str, Any]) -> int:
    sandbox.control("POST", "counters")
    config = GraphConfig(base_url=info["graph_url"], app_secret=info["app_secret"])
    owner = {a.removeprefix("act_"): u["token"] for u in info["users"] for a in u["ad_account_ids"]}
    rows = 0
    for kind, level in (("campaigns", "campaign"), ("adsets", "adset"), ("ads", "ad")):
        for obj in truth[kind]:
            client = GraphClient(owner[obj["account_id"]], config)
            params = insights_params(level=level, date_preset="last_30d")
            for page in iter_pages(client, f"{obj['id']}/insights", params, limit=100):
                rows += len(page.items)
    return sandbox.graph_calls()


def main() -> None:
    with bench_services("perf", seed=9, size=SIZE, faults={"job_seconds": 1}) as services:
        sandbox = services.sandbox
        truth = sandbox.truth()
        env = services.environment(
            "bench_perf",
            META_INSIGHTS_LEVELS=",".join(LEVELS),
            META_RATE_LIMIT_CALLS_PER_HOUR="100000",
            META_REPORT_POLL_SECONDS="2",
        )
        ctx = connected(env)
        users = services.info["users"]
        connections = [add_connection(ctx, f"t{u['id']}", u["token"]) for u in users]

        def sync_all(**options: Any) -> tuple[list[SyncRun], int]:
            """A performance sync of every connection: its runs and the Graph calls it made."""
            sandbox.control("POST", "counters")
            runs = [
                SyncRun.objects.get(
                    pk=run_inline(ctx, str(c.pk), kind="performance", **options).run_id
                )
                for c in connections
            ]
            return runs, sandbox.graph_calls()

        first, first_calls = sync_all()
        recent, recent_calls = sync_all()
        _, explicit_calls = sync_all(period=Period(preset="last_30d"), levels=LEVELS)
        replayed = per_entity(sandbox, services.info, truth)
        rows = {level: sum(int(r.rows.get(level, 0)) for r in first) for level in LEVELS}
        report = {
            "world": SIZE.__dict__,
            "levels": LEVELS,
            "rows_first_sync": rows,
            "calls": {
                "metasync_first_30_days_async": first_calls,
                "metasync_recent_3_days": recent_calls,
                "metasync_explicit_last_30d": explicit_calls,
                "minimum_async": minimum(truth, len(connections), True),
                "minimum_sync_pages": minimum(truth, len(connections), False),
                "per_entity_replayed": replayed,
            },
            "report_jobs_first": [dict(r.report_jobs) for r in first],
            "statuses": sorted({r.status for r in first + recent}),
        }
        db.database().client.drop_database("bench_perf")
    calls = report["calls"]
    print(f"rows written by the first sync: {rows}")
    print(
        table(
            ["30 days of daily rows", "Graph API calls"],
            [
                [
                    "metasync, first sync (async jobs incl. polls)",
                    calls["metasync_first_30_days_async"],
                ],
                ["page-bound minimum with jobs (start + 1 poll + pages)", calls["minimum_async"]],
                ["page-bound minimum, pages only", calls["minimum_sync_pages"]],
                ["per-entity approach, replayed", calls["per_entity_replayed"]],
                ["metasync, scheduled re-read of 3 recent days", calls["metasync_recent_3_days"]],
            ],
        )
    )
    print(f"saved {save('performance_sync', report)}")


if __name__ == "__main__":
    main()
