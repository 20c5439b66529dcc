"""Performance sync: Graph API calls for 30 days of daily rows, three ways, on one world.

World: 2 users x 2 accounts x 10 campaigns x 4 ad sets x 5 ads, 30 days of insights, levels
campaign, ad set and ad. Counted by the sandbox (``graph_calls``):

- metasync's first sync (30 days: one async report job per account and level: start, polls,
  result pages of 500 rows) and its scheduled re-read of the recent 3 days (synchronous);
- the page-bound minimum: one multi-id account read, plus per account and level
  ceil(rows / 500) pages (and a start and one poll for a job);
- the per-entity approach metasync replaces, replayed against the sandbox: one
  ``/{id}/insights`` call per campaign, ad set and ad (100 rows a page).

    .venv/bin/python -m bench.performance_sync
"""

from __future__ import annotations

import math
import secrets
import tempfile
from pathlib import Path
from typing import Any

import redis
import requests

from bench.common import save, table
from metasync import db
from metasync.config import load_settings
from metasync.embedded import start_mongo
from metasync.graph import GraphClient, GraphConfig, insights_params, iter_pages
from metasync.models import SyncRun
from metasync.sandbox.server import start_sandbox
from metasync.sandbox.world import WorldSize
from metasync.sync import Period, SyncContext, run_inline
from metasync.sync.connections import add_connection
from metasync.sync.performance import INSIGHTS_PAGE_SIZE

SIZE = WorldSize(
    users=2,
    accounts_per_user=2,
    campaigns_per_account=10,
    adsets_per_campaign=4,
    ads_per_adset=5,
    days=30,
)
LEVELS = ("campaign", "adset", "ad")
REDIS_URL = "redis://127.0.0.1:6379/0"


def counted(sandbox_url: str) -> int:
    return int(requests.get(f"{sandbox_url}/_sandbox/counters", timeout=30).json()["graph_calls"])


def reset(sandbox_url: str) -> None:
    requests.post(f"{sandbox_url}/_sandbox/counters", timeout=30)


def minimum(truth: dict[str, Any], users: int, async_jobs: bool) -> int:
    calls = users
    for account in truth["accounts"]:
        for level in LEVELS:
            rows = sum(
                1 for r in truth["insights"][level] if r["account_id"] == account["account_id"]
            )
            calls += max(1, math.ceil(rows / INSIGHTS_PAGE_SIZE)) + (2 if async_jobs else 0)
    return calls


def per_entity(sandbox_url: str, info: dict[str, Any], truth: dict[str, Any]) -> int:
    reset(sandbox_url)
    config = GraphConfig(base_url=info["graph_url"], app_secret=info["app_secret"])
    owner = {a.removeprefix("act_"): u["token"] for u in info["users"] for a in u["ad_account_ids"]}
    rows = 0
    for kind, level in (("campaigns", "campaign"), ("adsets", "adset"), ("ads", "ad")):
        for obj in truth[kind]:
            client = GraphClient(owner[obj["account_id"]], config)
            params = insights_params(level=level, date_preset="last_30d")
            for page in iter_pages(client, f"{obj['id']}/insights", params, limit=100):
                rows += len(page.items)
    return counted(sandbox_url)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mongo = start_mongo(folder / "mongo")
        sandbox, info = start_sandbox(folder / "sandbox", seed=9, size=SIZE)
        prefix = f"bench-perf-{secrets.token_hex(4)}:"
        try:
            requests.put(f"{sandbox.url}/_sandbox/faults", json={"job_seconds": 1}, timeout=10)
            truth = requests.get(f"{sandbox.url}/_sandbox/ground-truth", timeout=120).json()
            env = {
                "META_APP_ID": info["app_id"],
                "META_APP_SECRET": info["app_secret"],
                "META_GRAPH_URL": sandbox.url,
                "MONGODB_URI": f"{mongo.url}bench_perf",
                "REDIS_URL": REDIS_URL,
                "ENCRYPTION_KEY": secrets.token_hex(32),
                "REDIS_KEY_PREFIX": prefix,
                "META_INSIGHTS_LEVELS": ",".join(LEVELS),
                "META_RATE_LIMIT_CALLS_PER_HOUR": "100000",
                "META_REPORT_POLL_SECONDS": "2",
            }
            db.connect(env["MONGODB_URI"])
            db.ensure_indexes()
            ctx = SyncContext.from_settings(load_settings(env))
            connections = [add_connection(ctx, f"t{u['id']}", u["token"]) for u in info["users"]]
            reset(sandbox.url)
            first = [
                SyncRun.objects.get(pk=run_inline(ctx, str(c.pk), kind="performance").run_id)
                for c in connections
            ]
            first_calls = counted(sandbox.url)
            reset(sandbox.url)
            recent = [
                SyncRun.objects.get(pk=run_inline(ctx, str(c.pk), kind="performance").run_id)
                for c in connections
            ]
            recent_calls = counted(sandbox.url)
            reset(sandbox.url)
            sync_30 = [
                SyncRun.objects.get(
                    pk=run_inline(
                        ctx,
                        str(c.pk),
                        kind="performance",
                        period=Period(preset="last_30d"),
                        levels=LEVELS,
                    ).run_id
                )
                for c in connections
            ]
            del sync_30
            explicit_calls = counted(sandbox.url)
            replayed = per_entity(sandbox.url, info, truth)
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
        finally:
            sandbox.stop()
            mongo.stop()
            keys = redis.Redis.from_url(REDIS_URL)
            for key in keys.scan_iter(match=f"{prefix}*"):
                keys.delete(key)
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
