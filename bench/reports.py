"""Reports: Graph API calls for every prebuilt report over 30 days, on the peers' world.

World: 1 user x 2 ad accounts x 4 campaigns x 2 ad sets x 3 ads, 30 days of insights (the
world of ``bench.peers``). metasync reads an explicit 30-day range (every report's own grain:
weeks from Monday, calendar months, the whole range for lifetime reach), the daily rows at ad
level, async jobs taking 1 s. Counted by the sandbox (``graph_calls``):

- per report: the calls of a run with that report alone minus the calls of the same run with
  no report (the daily ad rows), and all reports together (shared requests included);
- the page-bound minimum: per account, one request per report (per day for the hourly ones) of
  ceil(rows / 500) pages, nothing for a report that rides on the daily read (``video``), and
  one request for an opt-in report Meta withholds from the account (2026-08-03: it answers
  that account no rows, which one empty answer shows);
- Airbyte's ``source-facebook-marketing`` 6.1.9, stream by stream, for the prebuilt breakdown
  streams that match one of ours (one async job per account and day, its way): run with
  ``--airbyte`` (installs it in its own virtual environment on first use, a few minutes).

    .venv/bin/python -m bench.reports [--airbyte]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import bench_services, connected, save, table
from bench.peer_clients import run_airbyte
from bench.peers import SIZE  # the peers' world: Airbyte's figures compare
from metasync.models import ReportRow, RunStatus, SyncRun
from metasync.reports.catalogue import needs_opt_in
from metasync.reports.definitions import PREBUILT
from metasync.reports.store import set_enabled
from metasync.sync import Period, run_inline
from metasync.sync.connections import add_connection
from metasync.sync.plan.report_plan import report_range
from metasync.sync.read.insights import INSIGHTS_PAGE_SIZE

DAYS = 30
AIRBYTE_EQUIVALENTS = {
    "age_gender": "ads_insights_age_and_gender",
    "country": "ads_insights_country",
    "region": "ads_insights_region",
    "placement_device": "ads_insights_platform_and_device",
    "device_platform": "ads_insights_delivery_device",
}


def _minimum(services: Any, accounts: list[str], first: date, last: date) -> dict[str, int]:
    """Page-bound calls per report: every row read once, 500 a page, one request per shape."""
    minimum: dict[str, int] = {}
    opted = {
        a.removeprefix("act_") for u in services.info["users"] for a in u["opted_in_account_ids"]
    }
    for name, report in PREBUILT.items():
        if name == "video":  # its fields ride on the daily ad read: no call of its own
            minimum[name] = 0
            continue
        calls = 0
        for account in accounts:
            if needs_opt_in(report.breakdowns) and account not in opted:
                calls += 1  # Meta serves it no rows: one empty answer says so
                continue
            since, until = report_range(report, "explicit", first, last, last) or (first, last)
            rows = services.sandbox.report_truth(
                report.as_dict(), account, since.isoformat(), until.isoformat()
            )
            if report.hourly:
                per_day: dict[str, int] = {}
                for row in rows:
                    per_day[row["date_start"]] = per_day.get(row["date_start"], 0) + 1
                calls += sum(max(1, math.ceil(n / INSIGHTS_PAGE_SIZE)) for n in per_day.values())
            else:
                calls += max(1, math.ceil(len(rows) / INSIGHTS_PAGE_SIZE))
        minimum[name] = calls
    return minimum


def _metasync(services: Any, first: date, last: date) -> dict[str, Any]:
    env = services.environment(
        "bench_reports",
        META_INSIGHTS_LEVELS="ad",
        META_RATE_LIMIT_CALLS_PER_HOUR="100000",
        META_REPORT_POLL_SECONDS="1",
    )
    ctx = connected(env)
    user = services.info["users"][0]
    connection = add_connection(ctx, "bench-reports", user["token"])
    run_inline(ctx, str(connection.pk), full=True)
    sandbox = services.sandbox

    def counted(enabled: tuple[str, ...]) -> tuple[int, SyncRun]:
        for name in PREBUILT:
            set_enabled(connection.tenant_id, name, name in enabled)
        sandbox.control("POST", "counters")
        start = run_inline(
            ctx, str(connection.pk), kind="performance", period=Period(since=first, until=last)
        )
        run = SyncRun.objects.get(pk=start.run_id)
        if run.status != RunStatus.SUCCEEDED:
            raise SystemExit(f"run with {enabled} ended {run.status}: {run.errors[:2]}")
        return sandbox.graph_calls(), run

    base_calls, _ = counted(())
    per_report = {}
    for name in PREBUILT:
        calls, run = counted((name,))
        per_report[name] = {"calls": calls - base_calls, "rows": int(run.rows.get(name, 0))}
    all_calls, run = counted(tuple(PREBUILT))
    return {
        "daily_ad_rows_calls": base_calls,
        "per_report": per_report,
        "all_reports_calls": all_calls - base_calls,
        "report_rows_stored": ReportRow.objects(tenant_id=connection.tenant_id).count(),
    }


def _airbyte(services: Any, accounts: list[str], first: date, last: date) -> dict[str, Any]:
    results: dict[str, Any] = {}
    token = services.info["users"][0]["token"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, stream in AIRBYTE_EQUIVALENTS.items():
            services.sandbox.control("POST", "counters")
            peer = run_airbyte(
                services.sandbox.url,
                token,
                accounts,
                first,
                last,
                Path(tmp) / name,
                insights_streams=(stream,),
                entity_streams=False,
            )
            results[name] = {
                "stream": stream,
                "calls": services.sandbox.graph_calls(),
                "rows": len(peer.records.get(stream, [])),
                "ok": peer.ok,
                "errors": peer.errors[:3],
                "seconds": round(peer.seconds, 1),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--airbyte", action="store_true", help="also run Airbyte's streams")
    args = parser.parse_args()
    options: dict[str, Any] = {"faults": {"job_seconds": 1}}
    if args.airbyte:
        options["require_appsecret_proof"] = False  # Airbyte sends no proof
    with bench_services("reports", seed=13, size=SIZE, **options) as services:
        truth = services.sandbox.truth()
        accounts = [a.removeprefix("act_") for a in services.info["users"][0]["ad_account_ids"]]
        last = date.fromisoformat(truth["windows"][accounts[0]][1])
        first = last - timedelta(days=DAYS - 1)
        results: dict[str, Any] = {
            "world": SIZE.__dict__,
            "days": DAYS,
            "range": [first.isoformat(), last.isoformat()],
            "minimum": _minimum(services, accounts, first, last),
            "metasync": _metasync(services, first, last),
        }
        if args.airbyte:
            results["airbyte"] = _airbyte(services, accounts, first, last)
    rows = []
    airbyte = results.get("airbyte", {})
    for name, measured in results["metasync"]["per_report"].items():
        peer = airbyte.get(name)
        rows.append(
            [
                name,
                measured["calls"],
                results["minimum"][name],
                measured["rows"],
                f"{peer['calls']} ({peer['stream']})" if peer else "-",
            ]
        )
    rows.append(
        [
            "all together",
            results["metasync"]["all_reports_calls"],
            sum(results["minimum"].values()),
            results["metasync"]["report_rows_stored"],
            sum(p["calls"] for p in airbyte.values()) if airbyte else "-",
        ]
    )
    print(
        table(
            ["report", "metasync calls", "page-bound minimum", "rows", "Airbyte calls (stream)"],
            rows,
        )
    )
    print(f"daily ad rows alone: {results['metasync']['daily_ad_rows_calls']} calls")
    print(f"saved {save('reports', results)}")


if __name__ == "__main__":
    main()
