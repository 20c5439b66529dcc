"""The warehouse export's cost: into PostgreSQL against a raw ``COPY`` of the same rows, and an
incremental export after a ``recent`` sync against the first, full one.

A sandbox world of 1,000 ads x 90 days is synced by metasync in-process (entities, then a first
performance sync of 90 days, four levels; ``--country`` adds the country report, whose rows
multiply the sync's time here more than the export's), then exported to PostgreSQL
(``POSTGRES_URL``, default postgresql://postgres@127.0.0.1:5432/postgres; a scratch database is
created and dropped). Figures:

1. **Load**: the ``basic_ad`` and ``basic_ad_actions`` rows of the export, prepared once, loaded
   by metasync's writer into an empty table (new keys: copied straight in inside a savepoint),
   against a raw ``COPY`` of the same rows into an empty table of the same shape and key. Goal:
   at least 0.7x the raw rate. Also the merge path: the same rows into a table already holding
   every key with other values (staged by ``COPY``, then one merge statement; every row
   updated). Five rounds, interleaved, the best of each kept.
2. **Export**: the whole first export (MongoDB reads, row building, every table), and a raw
   ``find()`` of the daily and report documents it reads, for scale (SecantusDB is slower than
   mongod: compare within the run).
3. **Incremental**: 12 ads get new rates in the sandbox, a scheduled (``recent``) sync reads the
   last days again, and the next export reads what that sync wrote and changes only the rows
   that moved. Its cost follows the change, not the 90 days of history.

    .venv/bin/python -m bench.export [--ads 1000] [--days 90]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.common import bench_services, connected, save, table
from metasync.export import export_tenant
from metasync.export.destinations import schema_for
from metasync.export.postgres import TYPES, PostgresWarehouse, _json_encoded
from metasync.export.sql import create_table, quote
from metasync.export.tables import TABLES
from metasync.models import Ad, DailyInsight, ReportRow
from metasync.reports.store import set_enabled
from metasync.sandbox.world import WorldSize
from metasync.sync import run_inline
from metasync.sync.connections import add_connection

COLUMNS = ("export", "read", "changed", "seconds")
ROUNDS = 5
POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _database() -> tuple[str, str]:
    name = f"bench_export_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    parts = urlsplit(POSTGRES_URL)
    return name, urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def _drop(name: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _rows(url: str, schema: str, name: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(quote(c) for c in TABLES[name].names)
    with psycopg.connect(url) as con:
        return con.execute(f"SELECT {columns} FROM {schema}.{name}".encode()).fetchall()


def _fresh(url: str, schema: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE".encode())
        con.execute(f"CREATE SCHEMA {quote(schema)}".encode())
        con.execute(create_table(schema, TABLES[name], TYPES).encode())


def raw_copy(url: str, name: str, rows: list[tuple[Any, ...]]) -> float:
    """Seconds for a plain COPY of ``rows`` into an empty table of the same shape and key."""
    _fresh(url, "raw", name)
    columns = ", ".join(quote(c) for c in TABLES[name].names)
    json_at = [i for i, c in enumerate(TABLES[name].columns) if c.kind == "json"]
    start = time.perf_counter()
    with psycopg.connect(url) as con, con.cursor() as cursor:
        with cursor.copy(f"COPY raw.{quote(name)} ({columns}) FROM STDIN".encode()) as copy:
            for row in rows:
                copy.write_row(_json_encoded(row, json_at) if json_at else row)
        con.commit()
    return time.perf_counter() - start


def writer_load(
    url: str,
    name: str,
    rows: list[tuple[Any, ...]],
    parents: list[tuple[Any, ...]],
    restate: bool = False,
) -> float:
    """Seconds for metasync's writer to load ``rows`` (one transaction) into an empty table,
    or with ``restate`` into one already holding every key with other values (the merge path:
    every row updated)."""
    _fresh(url, "mine", name)
    warehouse = PostgresWarehouse(url, "bench")
    warehouse.schema = "mine"
    table = TABLES[name]
    if restate:
        at = table.names.index("spend" if name == "basic_ad" else "value")
        earlier = [(*r[:at], (r[at] or 0) + 1, *r[at + 1 :]) for r in rows]
        warehouse.load(table, earlier, parents)
        warehouse.commit()
    start = time.perf_counter()
    changed = warehouse.load(table, rows, parents)
    warehouse.commit()
    elapsed = time.perf_counter() - start
    warehouse.close()
    assert changed == len(rows), (changed, len(rows))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ads", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--country", action="store_true")
    args = parser.parse_args()
    campaigns = max(1, args.ads // 100)
    size = WorldSize(
        users=1, accounts_per_user=2, campaigns_per_account=campaigns,
        adsets_per_campaign=5, ads_per_adset=10, days=args.days,
    )  # fmt: skip
    database, url = _database()
    try:
        with bench_services("export", seed=23, size=size, faults={"job_seconds": 0}) as svc:
            env = svc.environment(
                "bench_export",
                META_RATE_LIMIT_CALLS_PER_HOUR="100000",
                META_REPORT_POLL_SECONDS="1",
                META_INSIGHTS_INITIAL_DAYS=str(args.days),
                META_INSIGHTS_RECENT_DAYS="3",
            )
            ctx = connected(env)
            connection = add_connection(ctx, "bench", svc.info["users"][0]["token"])
            if args.country:
                set_enabled("bench", "country", True)
            started = time.perf_counter()
            run_inline(ctx, str(connection.pk))
            run_inline(
                ctx,
                str(connection.pk),
                kind="performance",
                sleep=lambda s: time.sleep(min(s, 0.05)),
            )
            synced_in = time.perf_counter() - started
            ads = Ad.objects(tenant_id="bench").count()
            daily_docs = DailyInsight.objects(tenant_id="bench").count()
            report_docs = ReportRow.objects(tenant_id="bench").count()
            print(f"synced {ads} ads, {daily_docs} daily documents in {synced_in:.0f} s")

            start = time.perf_counter()
            raw_read = sum(1 for _ in DailyInsight._get_collection().find({"tenant_id": "bench"}))
            raw_read += sum(1 for _ in ReportRow._get_collection().find({"tenant_id": "bench"}))
            raw_read_s = time.perf_counter() - start

            start = time.perf_counter()
            first = export_tenant("bench", url)
            first_s = time.perf_counter() - start
            schema = schema_for("bench")

            loads = []
            for name in ("basic_ad", "basic_ad_actions"):
                rows = _rows(url, schema, name)
                parents = (
                    [(r[0], r[1]) for r in _rows(url, schema, "basic_ad")]
                    if name != "basic_ad"
                    else []
                )
                rounds = [  # interleaved, so a noisy moment hits both sides alike
                    (
                        raw_copy(url, name, rows),
                        writer_load(url, name, rows, parents),
                        writer_load(url, name, rows, parents, restate=True),
                    )
                    for _ in range(ROUNDS)
                ]
                raw, mine, merged = (min(r[i] for r in rounds) for i in range(3))
                loads.append(
                    {
                        "table": name,
                        "rows": len(rows),
                        "raw_copy_s": raw,
                        "writer_s": mine,
                        "raw_rows_per_s": len(rows) / raw,
                        "writer_rows_per_s": len(rows) / mine,
                        "ratio": raw / mine,
                        "restated_s": merged,
                        "restated_ratio": raw / merged,
                    }
                )

            changed_ads = [
                a.meta_id for a in Ad.objects(tenant_id="bench").order_by("meta_id")[:12]
            ]
            for ad_id in changed_ads:
                change = {"cpm": 30.0, "ctr": 0.02}
                svc.sandbox.control(
                    "POST", "mutate", {"id": ad_id, "action": "performance", "fields": change}
                )
            start = time.perf_counter()
            run_inline(
                ctx,
                str(connection.pk),
                kind="performance",
                sleep=lambda s: time.sleep(min(s, 0.05)),
            )
            recent_sync_s = time.perf_counter() - start
            start = time.perf_counter()
            second = export_tenant("bench", url)
            second_s = time.perf_counter() - start
            start = time.perf_counter()
            third = export_tenant("bench", url)
            third_s = time.perf_counter() - start
    finally:
        _drop(database)

    report(ads, args.days, daily_docs, report_docs, loads, (first, second, third),
           (first_s, second_s, third_s), raw_read, raw_read_s, recent_sync_s)  # fmt: skip


def report(
    ads: int,
    days: int,
    daily_docs: int,
    report_docs: int,
    loads: list[dict[str, Any]],
    results: tuple[Any, Any, Any],
    seconds: tuple[float, float, float],
    raw_read: int,
    raw_read_s: float,
    recent_sync_s: float,
) -> None:
    """Print the tables and save the JSON."""
    print("\nLoad into PostgreSQL: metasync's writer against a raw COPY of the rows")
    print(f"(best of {ROUNDS} rounds, interleaved)")
    rates = [
        [r["table"], r["rows"], r["raw_rows_per_s"], r["writer_rows_per_s"], f"{r['ratio']:.2f}x",
         r["rows"] / r["restated_s"], f"{r['restated_ratio']:.2f}x"]
        for r in loads
    ]  # fmt: skip
    headers = ["table", "rows", "raw COPY rows/s", "writer rows/s (new keys)", "writer / raw",
               "writer rows/s (every row restated)", "restated / raw"]  # fmt: skip
    print(table(headers, rates))
    names = ("first (everything)", "after a recent sync", "nothing new")
    exports = [
        [name, sum(r.read.values()), sum(r.rows.values()), s]
        for name, r, s in zip(names, results, seconds, strict=True)
    ]
    print(f"\nExports of {ads} ads x {days} days ({daily_docs} daily, {report_docs} report docs)")
    print(table(["export", "documents read", "rows changed", "seconds"], exports))
    print(
        f"\nraw find() of the daily and report documents: {raw_read} in {raw_read_s:.1f} s; "
        f"the recent sync took {recent_sync_s:.1f} s"
    )
    path = save(
        "export",
        {
            "ads": ads,
            "days": days,
            "daily_documents": daily_docs,
            "report_documents": report_docs,
            "loads": loads,
            "exports": [dict(zip(COLUMNS, e, strict=True)) for e in exports],
            "rows": [dict(r.rows) for r in results],
            "read": [dict(r.read) for r in results],
            "raw_find": {"documents": raw_read, "seconds": raw_read_s},
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
