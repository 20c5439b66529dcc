"""The warehouse export's cost in every destination: metasync's writer against the same engine's
raw bulk load of the same rows, and an incremental export after a ``recent`` sync against the
first, full one.

A sandbox world of 1,000 ads x 90 days is synced by metasync in-process (entities, then a first
performance sync of 90 days, four levels; ``--country`` adds the country report, whose rows
multiply the sync's time here more than the export's), then exported to each destination of
``--destinations`` (default all):

- ``postgresql``: a scratch database on ``POSTGRES_URL`` (default
  postgresql://postgres@127.0.0.1:5432/postgres), created and dropped;
- ``duckdb`` and ``parquet``: a file and a directory in a temporary folder;
- ``snowflake``: a new database on the fakesnow server at ``FAKESNOW_URL`` (default
  http://127.0.0.1:64616), its password in a secret file as the export reads it;
- ``bigquery``: a new project on bqemulator at ``BIGQUERY_EMULATOR_URL`` (default
  http://127.0.0.1:9050), its datasets deleted after.

``scripts/warehouse-emulators`` starts both emulators; one that does not answer ends the run
with a message (no destination is skipped). The emulators are not the services: fakesnow runs
Snowflake's SQL on DuckDB in one Python process and bqemulator BigQuery's on DuckDB behind a
Python REST server, so their absolute figures say little about Snowflake or BigQuery. The
ratios within one run are what count: both sides pay the same emulator.

Figures:

1. **Load**: the ``basic_ad`` and ``basic_ad_actions`` rows of the export, prepared once (read
   back from a DuckDB export of the world), loaded by metasync's writer into an empty table (a
   first export's path: new keys copied or loaded straight in, after one query proves them
   new where the destination enforces no key)
   against the engine's raw bulk load of the same rows into a plain table
   (:mod:`bench.export_loads` says which, per destination). Goal: at least 0.7x the raw rate.
   Also the merge path: the same rows into a table already holding every key with other values
   (every row updated). Rounds interleaved (a noisy moment hits both sides alike), the best of
   each kept: ``--rounds`` (5) locally, ``--emulator-rounds`` (3) on the emulators, which load
   at most ``--emulator-rows`` (10,000) rows of each table, the first ones by key (each
   statement there costs tens of milliseconds to seconds: full-size rounds would add many
   minutes and tell nothing more about the ratio). The exports run on the whole world
   everywhere (a first export to an emulator takes one to two minutes).
2. **Exports**: each destination's whole first export (MongoDB reads, row building, every
   table); after 12 ads get new rates in the sandbox and a scheduled (``recent``) sync reads the
   last days again, the next export, which reads what that sync wrote and changes only the rows
   that moved; and one more with nothing new. The incremental export's cost follows the change,
   not the 90 days of history.

    .venv/bin/python -m bench.export [--ads 1000] [--days 90] [--destinations postgresql,duckdb]

``--loads-from FILE`` measures the load figure alone, on the rows of a DuckDB export kept from
an earlier run (``export.duckdb``): no sync and no exports, so two versions of the writer can be
compared on the same rows in minutes.

Results: tables on standard output and ``bench/results/export.json``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import requests

from bench.common import bench_services, connected, save, table
from bench.export_loads import (
    BigQueryBench,
    DuckBench,
    LoadBench,
    ParquetBench,
    PostgresBench,
    SnowflakeBench,
    drop_postgres_database,
    postgres_database,
)
from metasync.config import get_settings
from metasync.export import ExportResult, export_tenant
from metasync.export.destinations import schema_for
from metasync.export.tables import TABLES
from metasync.models import Ad, DailyInsight, ReportRow
from metasync.reports.store import set_enabled
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext, run_inline
from metasync.sync.connections import add_connection

DESTINATIONS = ("postgresql", "duckdb", "parquet", "snowflake", "bigquery")
LOADED = ("basic_ad", "basic_ad_actions")
EXPORTS = ("first (everything)", "after a recent sync", "nothing new")
POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FAKESNOW_URL = os.environ.get("FAKESNOW_URL", "http://127.0.0.1:64616")
BIGQUERY_EMULATOR_URL = os.environ.get("BIGQUERY_EMULATOR_URL", "http://127.0.0.1:9050")
TENANT = "bench"
# settings every process must have, which the loads alone never use (no MongoDB, no Meta)
PLACEHOLDER_SETTINGS = {
    "MONGODB_URI": "mongodb://127.0.0.1:1/unused",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "ENCRYPTION_KEY": "0" * 64,
    "META_APP_ID": "1",
    "META_APP_SECRET": "unused",
}


def _destinations(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(DESTINATIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown destination {', '.join(unknown) or '(none)'}: choose from "
            f"{', '.join(DESTINATIONS)}"
        )
    return [n for n in DESTINATIONS if n in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ads", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--country", action="store_true")
    parser.add_argument("--destinations", type=_destinations, default=list(DESTINATIONS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--emulator-rounds", type=int, default=3)
    parser.add_argument("--emulator-rows", type=int, default=10_000)
    parser.add_argument("--loads-from", type=Path, help="a DuckDB export's file: loads only")
    args = parser.parse_args()
    if args.loads_from is not None:
        _loads_only(args)
        return
    size = WorldSize(
        users=1,
        accounts_per_user=2,
        campaigns_per_account=max(1, args.ads // 100),
        adsets_per_campaign=5,
        ads_per_adset=10,
        days=args.days,
    )
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-export-")))
        benches = {n: stack.enter_context(_destination(n, folder)) for n in args.destinations}
        svc = stack.enter_context(
            bench_services("export", seed=23, size=size, faults={"job_seconds": 0})
        )
        env = svc.environment(
            "bench_export",
            META_RATE_LIMIT_CALLS_PER_HOUR="100000",
            META_REPORT_POLL_SECONDS="1",
            META_INSIGHTS_INITIAL_DAYS=str(args.days),
            META_INSIGHTS_RECENT_DAYS="3",
            WAREHOUSE_SECRETS_DIR=str(folder / "secrets"),
        )
        os.environ.update(env)  # the export reads its secrets' folder from the settings
        get_settings.cache_clear()
        ctx = connected(env)
        connection = add_connection(ctx, TENANT, svc.info["users"][0]["token"])
        if args.country:
            set_enabled(TENANT, "country", True)
        started = time.perf_counter()
        run_inline(ctx, str(connection.pk))
        _performance_sync(ctx, str(connection.pk))
        world = {
            "ads": Ad.objects(tenant_id=TENANT).count(),
            "days": args.days,
            "daily_documents": DailyInsight.objects(tenant_id=TENANT).count(),
            "report_documents": ReportRow.objects(tenant_id=TENANT).count(),
            "sync_seconds": time.perf_counter() - started,
        }
        print(
            f"synced {world['ads']} ads, {world['daily_documents']} daily documents "
            f"in {world['sync_seconds']:.0f} s"
        )

        exports: dict[str, list[tuple[ExportResult, float]]] = {}
        for name, bench in benches.items():
            exports[name] = [_timed(bench.url)]
            print(f"first export to {name}: {exports[name][0][1]:.1f} s")
        rows = _prepared_rows(benches.get("duckdb"), folder)

        loads = []
        for bench in benches.values():
            rounds = args.emulator_rounds if bench.emulated else args.rounds
            limit = args.emulator_rows if bench.emulated else None
            for table_name in LOADED:
                loads.append(_load_figure(bench, table_name, rows, rounds, limit))
                print(_load_line(loads[-1]))

        _change_rates(svc)
        start = time.perf_counter()
        _performance_sync(ctx, str(connection.pk))
        world["recent_sync_seconds"] = time.perf_counter() - start
        for name, bench in benches.items():
            exports[name].append(_timed(bench.url))
            exports[name].append(_timed(bench.url))
    report(world, loads, exports, args)


def _loads_only(args: argparse.Namespace) -> None:
    """The load figure alone, on the rows of the DuckDB export ``args.loads_from``."""
    rows = _read_rows(args.loads_from)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-export-")))
        os.environ["WAREHOUSE_SECRETS_DIR"] = str(folder / "secrets")
        for name, value in PLACEHOLDER_SETTINGS.items():  # required, unused by the writers
            os.environ.setdefault(name, value)
        get_settings.cache_clear()
        benches = {n: stack.enter_context(_destination(n, folder)) for n in args.destinations}
        loads = []
        for bench in benches.values():
            rounds = args.emulator_rounds if bench.emulated else args.rounds
            limit = args.emulator_rows if bench.emulated else None
            for table_name in LOADED:
                loads.append(_load_figure(bench, table_name, rows, rounds, limit))
                print(_load_line(loads[-1]))
    print(f"\nLoad ratios, rows of {args.loads_from} (goal 0.7x):")
    print(
        table(
            ["destination", "table", "rows", "raw s", "writer s", "writer / raw", "restated / raw"],
            [
                [
                    r["destination"],
                    r["table"],
                    r["rows"],
                    r["raw_s"],
                    r["writer_s"],
                    f"{r['ratio']:.2f}x",
                    f"{r['restated_ratio']:.2f}x",
                ]
                for r in loads
            ],
        )
    )
    print(f"saved {save('export_loads', {'rows_from': str(args.loads_from), 'loads': loads})}")


# -- the destinations -----------------------------------------------------------------------
@contextmanager
def _destination(name: str, folder: Path) -> Iterator[LoadBench]:
    """A scratch place in destination ``name`` and its load bench; removed on the way out
    (fakesnow cannot drop a database: it lives as long as the server)."""
    bench: LoadBench
    if name == "postgresql":
        database, url = postgres_database(POSTGRES_URL)
        try:
            yield PostgresBench(url)
        finally:
            drop_postgres_database(POSTGRES_URL, database)
        return
    if name == "duckdb":
        bench = DuckBench(f"duckdb://{folder}/export.duckdb", folder)
    elif name == "parquet":
        bench = ParquetBench(f"parquet://{folder}/parquet", folder)
    elif name == "snowflake":
        bench = SnowflakeBench(_snowflake_database(folder), folder)
    else:
        bench = BigQueryBench(_bigquery_project())
    try:
        yield bench
    finally:
        bench.close()


def _snowflake_database(folder: Path) -> str:
    """A new database on the fakesnow server, as a ``snowflake://`` URL whose password is in
    the secret file ``snowflake`` (fakesnow accepts any)."""
    import snowflake.connector

    endpoint = urlsplit(FAKESNOW_URL)
    secrets = folder / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "snowflake").write_text("fakesnow-accepts-any-password\n")
    database = f"BENCH_{uuid.uuid4().hex[:12].upper()}"
    try:
        admin = snowflake.connector.connect(
            user="metasync",
            password="fakesnow",  # noqa: S106 - fakesnow accepts any
            account="fakesnow",
            host=endpoint.hostname,
            port=endpoint.port,
            protocol=endpoint.scheme,
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
            login_timeout=10,
            network_timeout=60,
        )
    except snowflake.connector.errors.Error as exc:
        raise SystemExit(
            f"no fakesnow server answers at {FAKESNOW_URL} ({type(exc).__name__}): "
            "run scripts/warehouse-emulators"
        ) from None
    with admin:
        admin.cursor().execute(f"CREATE DATABASE {database}")
    return (
        f"snowflake://fakesnow/{database}?user=metasync&secret=snowflake"
        f"&host={endpoint.hostname}&port={endpoint.port}&protocol={endpoint.scheme}"
    )


def _bigquery_project() -> str:
    """A new project on bqemulator, as a ``bigquery://`` URL (anonymous, as it expects)."""
    try:
        requests.get(f"{BIGQUERY_EMULATOR_URL}/healthz", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        raise SystemExit(
            f"no BigQuery emulator answers at {BIGQUERY_EMULATOR_URL} ({type(exc).__name__}): "
            "run scripts/warehouse-emulators"
        ) from None
    return f"bigquery://bench-{uuid.uuid4().hex[:12]}/US?endpoint={BIGQUERY_EMULATOR_URL}"


# -- the figures ----------------------------------------------------------------------------
def _timed(url: str) -> tuple[ExportResult, float]:
    """One export of the tenant to ``url``, and its seconds."""
    start = time.perf_counter()
    result = export_tenant(TENANT, url)
    return result, time.perf_counter() - start


def _performance_sync(ctx: SyncContext, connection_id: str) -> None:
    """The first one reads ``--days`` of history; a later one the recent days again."""
    run_inline(ctx, connection_id, kind="performance", sleep=lambda s: time.sleep(min(s, 0.05)))


def _change_rates(svc: Any) -> None:
    """12 ads get new rates in the sandbox: their recent days change when read again."""
    for ad_id in [a.meta_id for a in Ad.objects(tenant_id=TENANT).order_by("meta_id")[:12]]:
        svc.sandbox.control(
            "POST",
            "mutate",
            {"id": ad_id, "action": "performance", "fields": {"cpm": 30.0, "ctr": 0.02}},
        )


def _prepared_rows(duck: LoadBench | None, folder: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The export's ``basic_ad`` and ``basic_ad_actions`` rows, ordered by key, read back from
    the DuckDB export (or a scratch one, when DuckDB is not measured)."""
    url = duck.url if duck is not None else f"duckdb://{folder}/rows.duckdb"
    if duck is None:
        export_tenant(TENANT, url)
    return _read_rows(Path(urlsplit(url).path))


def _read_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The ``basic_ad`` and ``basic_ad_actions`` rows of the DuckDB export ``path``."""
    schema = schema_for(TENANT)
    rows = {}
    with duckdb.connect(str(path), read_only=True) as con:
        for name in LOADED:
            table_ = TABLES[name]
            columns = ", ".join(f'"{c}"' for c in table_.names)
            order = ", ".join(f'"{k}"' for k in table_.key)
            found = con.execute(
                f'SELECT {columns} FROM "{schema}"."{name}" ORDER BY {order}'
            ).fetchall()
            rows[name] = [tuple(_aware(v) for v in row) for row in found]
    return rows


def _aware(value: Any) -> Any:
    """DuckDB's UTC ``TIMESTAMP`` as the export builds it: a time with its zone."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def _load_figure(
    bench: LoadBench,
    name: str,
    prepared: dict[str, list[tuple[Any, ...]]],
    rounds: int,
    limit: int | None,
) -> dict[str, Any]:
    """The best of ``rounds`` interleaved rounds of the raw load, the writer's first-export
    load and its restatement, of at most ``limit`` rows (and their parents)."""
    table_ = TABLES[name]
    rows = prepared[name][:limit]
    parents: list[tuple[Any, ...]] = []
    if table_.parent:
        parents = sorted({tuple(r[table_.names.index(p)] for p in table_.parent) for r in rows})
    timings = [
        (
            bench.raw(table_, rows),
            bench.writer(table_, rows, parents),
            bench.writer(table_, rows, parents, restate=True),
        )
        for _ in range(rounds)
    ]
    raw, mine, restated = (min(t[i] for t in timings) for i in range(3))
    return {
        "destination": bench.name,
        "emulated": bench.emulated,
        "table": name,
        "rows": len(rows),
        "rounds": rounds,
        "raw_s": raw,
        "writer_s": mine,
        "restated_s": restated,
        "raw_rows_per_s": len(rows) / raw,
        "writer_rows_per_s": len(rows) / mine,
        "restated_rows_per_s": len(rows) / restated,
        "ratio": raw / mine,
        "restated_ratio": raw / restated,
        "all_rounds_s": [list(t) for t in timings],
    }


def _load_line(load: dict[str, Any]) -> str:
    return (
        f"  {load['destination']} {load['table']}: raw {load['raw_s']:.2f} s, writer "
        f"{load['writer_s']:.2f} s ({load['ratio']:.2f}x), restated {load['restated_s']:.2f} s"
    )


RAW_LOADS = {
    "postgresql": "COPY FROM STDIN",
    "duckdb": "CSV + COPY FROM",
    "parquet": "CSV + read_csv -> COPY TO parquet",
    "snowflake": "CSV + PUT + COPY INTO",
    "bigquery": "NDJSON + one load job",
}


def report(
    world: dict[str, Any],
    loads: list[dict[str, Any]],
    exports: dict[str, list[tuple[ExportResult, float]]],
    args: argparse.Namespace,
) -> None:
    """Print the tables and save the JSON."""
    print(
        f"\nLoad: metasync's writer against the engine's raw bulk load of the same rows (best of "
        f"{args.rounds} rounds, {args.emulator_rounds} on the emulators, interleaved; goal 0.7x)"
    )
    rates = [
        [
            f"{r['destination']}{' (emulator)' if r['emulated'] else ''}",
            r["table"],
            r["rows"],
            RAW_LOADS[r["destination"]],
            r["raw_rows_per_s"],
            r["writer_rows_per_s"],
            f"{r['ratio']:.2f}x{'' if r['ratio'] >= 0.7 else ' (< 0.7)'}",
            r["restated_rows_per_s"],
            f"{r['restated_ratio']:.2f}x",
        ]
        for r in loads
    ]
    headers = [
        "destination",
        "table",
        "rows",
        "raw load",
        "raw rows/s",
        "writer rows/s (new keys)",
        "writer / raw",
        "writer rows/s (every row restated)",
        "restated / raw",
    ]
    print(table(headers, rates))
    if any(r["emulated"] for r in loads):
        print(
            "The emulators are not Snowflake and BigQuery: their absolute rates mean little; "
            "compare the ratios, both sides ran on the same emulator in this run."
        )
    lines = [
        [name, label, sum(result.read.values()), sum(result.rows.values()), seconds]
        for name, runs in exports.items()
        for label, (result, seconds) in zip(EXPORTS, runs, strict=True)
    ]
    print(
        f"\nExports of {world['ads']} ads x {world['days']} days ({world['daily_documents']} "
        f"daily, {world['report_documents']} report documents); the recent sync took "
        f"{world['recent_sync_seconds']:.1f} s"
    )
    print(table(["destination", "export", "documents read", "rows changed", "seconds"], lines))
    path = save(
        "export",
        {
            **world,
            "destinations": list(exports),
            "loads": loads,
            "exports": [
                {
                    "destination": name,
                    "export": label,
                    "read": dict(result.read),
                    "rows": dict(result.rows),
                    "documents_read": sum(result.read.values()),
                    "rows_changed": sum(result.rows.values()),
                    "seconds": seconds,
                }
                for name, runs in exports.items()
                for label, (result, seconds) in zip(EXPORTS, runs, strict=True)
            ],
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
