"""The size of a run's document as the world grows ten times: it must not grow with the run.

Two worlds of 2 ad accounts, one ten times the other (campaigns, ad sets and ads per account);
a full entity sync and a first performance sync (30 days, 4 levels) of each, in-process. For
each run: pages, subtasks, and the BSON size of its document, at its largest while running
(read after every subtask) and once closed.

    .venv/bin/python -m bench.run_document
"""

from __future__ import annotations

from typing import Any

import bson

from bench.common import bench_services, connected, save, table
from metasync import db
from metasync.models import SyncRun
from metasync.sandbox.world import WorldSize
from metasync.sync import run_inline
from metasync.sync.connections import add_connection

WORLDS = {
    "1x": WorldSize(
        users=1,
        accounts_per_user=2,
        campaigns_per_account=4,
        adsets_per_campaign=2,
        ads_per_adset=3,
        days=30,
    ),
    "10x": WorldSize(
        users=1,
        accounts_per_user=2,
        campaigns_per_account=20,
        adsets_per_campaign=4,
        ads_per_adset=6,
        days=30,
    ),
}


def _size(run_id: str) -> int:
    return len(bson.encode(SyncRun._get_collection().find_one({"_id": bson.ObjectId(run_id)})))


def measure(name: str, size: WorldSize) -> list[dict[str, Any]]:
    rows = []
    with bench_services(f"rundoc-{name}", seed=17, size=size, faults={"job_seconds": 0}) as svc:
        env = svc.environment(
            f"bench_rundoc_{name}",
            META_RATE_LIMIT_CALLS_PER_HOUR="100000",
            META_REPORT_POLL_SECONDS="1",
        )
        ctx = connected(env)
        connection = add_connection(ctx, "bench", svc.info["users"][0]["token"])
        for kind in ("entities", "performance"):
            sizes: list[int] = []
            start = run_inline(
                ctx,
                str(connection.pk),
                kind=kind,
                on_progress=lambda run, seen=sizes: seen.append(_size(str(run.pk))),
            )
            peak = [max(sizes, default=0)]
            run = SyncRun.objects.get(pk=start.run_id)
            rows.append(
                {
                    "world": name,
                    "kind": kind,
                    "status": run.status,
                    "pages": run.pages,
                    "subtasks": run.subtasks_total,
                    "peak_bytes": peak[0],
                    "closed_bytes": _size(start.run_id or ""),
                    "written": sum(int(v) for v in {**run.entities, **run.rows}.values()),
                }
            )
        db.database().client.drop_database(f"bench_rundoc_{name}")
    return rows


def main() -> None:
    results = [row for name, size in WORLDS.items() for row in measure(name, size)]
    print(
        table(
            [
                "world",
                "run",
                "written",
                "pages",
                "subtasks",
                "largest doc (bytes)",
                "closed doc (bytes)",
            ],
            [
                [
                    r["world"],
                    r["kind"],
                    r["written"],
                    r["pages"],
                    r["subtasks"],
                    r["peak_bytes"],
                    r["closed_bytes"],
                ]
                for r in results
            ],
        )
    )
    worlds = {name: size.__dict__ for name, size in WORLDS.items()}
    print(f"saved {save('run_document', {'worlds': worlds, 'runs': results})}")


if __name__ == "__main__":
    main()
