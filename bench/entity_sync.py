"""Entity sync: Graph API calls against the page-bound minimum, and throughput end to end.

A sandbox world (2 users x 2 accounts x 10 campaigns x 4 ad sets x 5 ads) is synced by real
Celery worker processes (1, then 2) into a SecantusDB server, through Redis. Reported:

- API calls of a full sync and of a no-change incremental sync, against the minimum the pages
  allow (sum over edges of ceil(objects / page size), plus one read of each account's details:
  a batch item each, as multi-id reads are closed to apps created from 2026-11-04) and against
  the per-entity approach metasync replaces (one call per campaign for its ad sets, per ad set
  for its ads, per ad for its creative); and the full sync's calls by
  object type (campaign tree, creatives, the four libraries, the activity log).
- Entities per second end to end, against the same MongoDB server's raw bulk upsert speed on
  the same documents (our overhead as a ratio; compare ratios, not absolute numbers).

    .venv/bin/python -m bench.entity_sync
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient, UpdateOne

from bench.common import bench_services, save, table
from metasync import db
from metasync.config import load_settings
from metasync.embedded import Workers
from metasync.models import (
    Ad,
    AdCreative,
    AdSet,
    Campaign,
    DailyInsight,
    MetaConnection,
    RunStatus,
    SyncRun,
)
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext
from metasync.sync.connections import add_connection
from metasync.sync.read.edges import PAGE_SIZE
from metasync.sync.shapes.edges import LIBRARY_EDGES
from workers.client import sender_app

SIZE = WorldSize(
    users=2,
    accounts_per_user=2,
    campaigns_per_account=10,
    adsets_per_campaign=4,
    ads_per_adset=5,
    days=7,
)


def minimum_by_edge(truth: dict[str, Any], incremental: bool) -> dict[str, int]:
    """Per edge, the calls its pages need: the campaign tree and the activity log are read from
    the last sync (one empty page when nothing changed), the libraries whole every time (Meta
    has no filter for them)."""
    calls: dict[str, int] = {}
    for account in truth["accounts"]:
        account_id = account["account_id"]
        edges = ["campaigns", "adsets", "ads"] + ([] if incremental else ["adcreatives"])
        for edge in [*edges, *LIBRARY_EDGES, "activities"]:
            whole = edge in LIBRARY_EDGES or not incremental
            count = sum(1 for o in truth[edge] if o["account_id"] == account_id) if whole else 0
            calls[edge] = calls.get(edge, 0) + max(1, math.ceil(count / PAGE_SIZE))
    return calls


def minimum_calls(truth: dict[str, Any], users: int, incremental: bool) -> int:
    # each account's details (a batch item each), then the pages of every edge
    del users
    return len(truth["accounts"]) + sum(minimum_by_edge(truth, incremental).values())


def per_entity_calls(truth: dict[str, Any]) -> int:
    """The original scripts: campaigns per account, then ad sets per campaign, ads per ad set,
    and a creative per ad (each listing one page)."""
    return (
        len(truth["accounts"]) + len(truth["campaigns"]) + len(truth["adsets"]) + len(truth["ads"])
    )


def sync_once(
    env: dict[str, str], folder: Path, workers: int, full: bool, kind: str = "entities"
) -> dict[str, Any]:
    settings = load_settings(env)
    client = sender_app(settings.celery_broker_url, settings.REDIS_KEY_PREFIX)
    running = Workers(env, folder, count=workers).start()
    try:
        before = {r.pk for r in SyncRun.objects}
        started = time.monotonic()
        for connection in MetaConnection.objects:
            client.send_task(
                "metasync.sync_connection",
                args=[str(connection.pk)],
                kwargs={"trigger": "bench", "full": full, "kind": kind},
            )
        count = MetaConnection.objects.count()
        while True:
            runs = [r for r in SyncRun.objects if r.pk not in before]
            if len(runs) == count and all(r.status != RunStatus.RUNNING for r in runs):
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        running.stop()
    counted = (
        (lambda r: sum(int(v) for v in r.rows.values()))
        if kind == "performance"
        else (lambda r: sum(int(v) for k, v in r.entities.items() if k != "accounts"))
    )
    entities = sum(counted(r) for r in runs)
    return {
        "seconds": elapsed,
        "entities": entities,
        "api_calls": sum(r.api_calls for r in runs),
        "statuses": sorted({r.status for r in runs}),
    }


def raw_bulk_speed(mongo_url: str, source_db: str, insights: bool = False) -> dict[str, float]:
    """Upsert the synced documents again with plain pymongo bulk writes into a scratch database,
    keyed like ours (entities by tenant and id, daily rows by their natural key)."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    source, target = client[source_db], client[f"{source_db}_raw"]
    batches = []
    models = (DailyInsight,) if insights else (Campaign, AdSet, Ad, AdCreative)
    for model in models:
        name = model._get_collection_name()
        key = list(model.natural_key)
        docs = [{k: v for k, v in d.items() if k != "_id"} for d in source[name].find()]
        target[name].create_index([(field, 1) for field in key], unique=True)
        size = 500 if insights else PAGE_SIZE
        batches += [(name, key, docs[i : i + size]) for i in range(0, len(docs), size)]
    started = time.monotonic()
    total = 0
    for name, key, docs in batches:
        target[name].bulk_write(
            [UpdateOne({field: d[field] for field in key}, {"$set": d}, upsert=True) for d in docs],
            ordered=False,
        )
        total += len(docs)
    elapsed = time.monotonic() - started
    client.drop_database(f"{source_db}_raw")
    return {"entities": total, "seconds": elapsed, "per_second": total / elapsed}


def main() -> None:
    rows: list[list[Any]] = []
    report: dict[str, Any] = {"world": SIZE.__dict__, "page_size": PAGE_SIZE}
    with bench_services("entities", seed=7, size=SIZE) as services:
        info, folder, mongo = services.info, services.folder, services.mongo
        truth = services.sandbox.control("GET", "ground-truth?levels=ad")
        for workers in (1, 2, 4):
            database = f"bench_entities_{workers}"
            env = services.environment(database, REDIS_KEY_PREFIX=f"{services.prefix}{workers}:")
            db.connect(env["MONGODB_URI"])
            db.database().client.drop_database(database)
            db.ensure_indexes()
            ctx = SyncContext.from_settings(load_settings(env))
            for user in info["users"]:
                add_connection(ctx, f"tenant-{user['id']}", user["token"])
            services.sandbox.control("POST", "counters")
            full = sync_once(env, folder, workers, full=True)
            if workers == 1:
                by_path = services.sandbox.control("GET", "counters")["by_path"]
                report["full_calls_by_edge"] = {
                    edge: int(by_path.get(f"GET /act_{{id}}/{edge}", 0))
                    for edge in minimum_by_edge(truth, incremental=False)
                }
            incremental = sync_once(env, folder, workers, full=False)
            performance = sync_once(env, folder, workers, full=False, kind="performance")
            raw = raw_bulk_speed(mongo.url, database)
            raw_rows = raw_bulk_speed(mongo.url, database, insights=True)
            ours = full["entities"] / full["seconds"]
            ours_rows = performance["entities"] / performance["seconds"]
            report[f"workers_{workers}"] = {
                "full": full,
                "incremental": incremental,
                "performance": performance,
                "raw_bulk": raw,
                "raw_bulk_rows": raw_rows,
                "entities_per_second": ours,
                "rows_per_second": ours_rows,
                "ratio_to_raw": ours / raw["per_second"],
                "rows_ratio_to_raw": ours_rows / raw_rows["per_second"],
            }
            rows.append(
                [
                    workers,
                    "entities",
                    full["entities"],
                    round(full["seconds"], 2),
                    round(ours, 1),
                    round(raw["per_second"], 1),
                    round(ours / raw["per_second"], 3),
                ]
            )
            rows.append(
                [
                    workers,
                    "daily rows",
                    performance["entities"],
                    round(performance["seconds"], 2),
                    round(ours_rows, 1),
                    round(raw_rows["per_second"], 1),
                    round(ours_rows / raw_rows["per_second"], 3),
                ]
            )
            db.database().client.drop_database(database)
            db.disconnect()
        calls = {
            "full": report["workers_1"]["full"]["api_calls"],
            "full_minimum": minimum_calls(truth, len(info["users"]), incremental=False),
            "incremental": report["workers_1"]["incremental"]["api_calls"],
            "incremental_minimum": minimum_calls(truth, len(info["users"]), incremental=True),
            "per_entity_approach": per_entity_calls(truth),
        }
        report["api_calls"] = calls
    print("API calls per sync")
    print(
        table(
            ["sync", "metasync", "page-bound minimum", "per-entity approach"],
            [
                ["full", calls["full"], calls["full_minimum"], calls["per_entity_approach"]],
                ["no-change incremental", calls["incremental"], calls["incremental_minimum"], "-"],
            ],
        )
    )
    minimum = minimum_by_edge(truth, incremental=False)
    print("\nAPI calls of the full sync by object type")
    print(
        table(
            ["edge", "objects", "metasync", "page-bound minimum"],
            [
                [
                    edge,
                    len(truth[edge]),
                    report["full_calls_by_edge"][edge],
                    minimum[edge],
                ]
                for edge in minimum
            ],
        )
    )
    print(
        "\nThroughput (entities: campaigns, ad sets, ads, creatives of a full sync; daily rows: "
        "a first performance sync of the 7-day world)"
    )
    print(
        table(["workers", "what", "written", "seconds", "per second", "raw bulk/s", "ratio"], rows)
    )
    print(f"saved {save('entity_sync', report)}")


if __name__ == "__main__":
    main()
