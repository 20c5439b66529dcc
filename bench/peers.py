"""metasync beside the connectors people use today, on one sandbox world, in one run.

World: 1 user x 2 ad accounts x 4 campaigns x 2 ad sets x 3 ads (archived and deleted objects
included), 30 days of insights of which each tool reads the last 7 at ad level, plus every
campaign, ad set, ad and creative. The sandbox is stock (async jobs take 2 s) but for Meta's
"Require App Secret" app setting, which is off because neither connector sends
``appsecret_proof`` (metasync still sends one, and a proof that is sent is checked).

For each tool: Graph API calls (the sandbox's counters), wall time, and what it read against the
ground truth: live objects and daily rows, and archived/deleted ones counted separately.

- metasync: a full entity sync, then a performance sync of the same 7 days at ad level (the
  connectors' ``ads_insights`` stream); and the default performance sync (4 levels) beside it.
- Airbyte's ``source-facebook-marketing`` 6.1.9: entity streams, then ``ads_insights`` with
  ``start_date`` (two reads: its ``start_date`` also filters objects by ``updated_time``).
- singer-io's ``tap-facebook`` 1.26.0: one run per ad account, insights buffer of 1 day.

    .venv/bin/python -m bench.peers
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import bench_services, connected, save, table
from bench.peer_clients import (
    AIRBYTE_STREAMS,
    SINGER_STREAMS,
    PeerRun,
    run_airbyte,
    run_singer,
    score_against_truth,
)
from metasync import db
from metasync.models import Ad, AdCreative, AdSet, Campaign, DailyInsight, SyncRun
from metasync.sandbox.world import WorldSize
from metasync.sync import Period, run_inline
from metasync.sync.connections import add_connection

SIZE = WorldSize(
    users=1,
    accounts_per_user=2,
    campaigns_per_account=4,
    adsets_per_campaign=2,
    ads_per_adset=3,
    days=30,
)
DAYS = 7
METASYNC_STREAMS = {
    "campaigns": "campaigns",
    "adsets": "adsets",
    "ads": "ads",
    "adcreatives": "adcreatives",
}


def _metasync(services: Any, first: date, last: date) -> tuple[dict[str, Any], PeerRun]:
    """Entity sync, then ad-level daily rows for [first, last], then the default levels."""
    env = services.environment("bench_peers", META_RATE_LIMIT_CALLS_PER_HOUR="100000")
    ctx = connected(env)
    user = services.info["users"][0]
    connection = add_connection(ctx, "bench-peers", user["token"])
    sandbox = services.sandbox
    sandbox.control("POST", "counters")
    started = time.monotonic()
    entity_run = run_inline(ctx, str(connection.pk), full=True)
    period = Period(since=first, until=last)
    ad_run = run_inline(ctx, str(connection.pk), kind="performance", period=period, levels=("ad",))
    seconds = time.monotonic() - started
    calls = sandbox.graph_calls()
    sandbox.control("POST", "counters")
    all_levels = run_inline(ctx, str(connection.pk), kind="performance", period=period)
    all_calls = sandbox.graph_calls()
    run = PeerRun("metasync", seconds=seconds)
    for stream, model in (
        ("campaigns", Campaign),
        ("adsets", AdSet),
        ("ads", Ad),
        ("adcreatives", AdCreative),
    ):
        run.records[stream] = [{"id": d.meta_id} for d in model.objects(deleted_at=None)]
    run.records["ads_insights"] = [
        {"ad_id": d.entity_id, "date_start": d.date} for d in DailyInsight.objects(level="ad")
    ]
    statuses = [SyncRun.objects.get(pk=r.run_id).status for r in (entity_run, ad_run, all_levels)]
    db.database().client.drop_database("bench_peers")
    return {"calls": calls, "calls_all_levels": all_calls, "statuses": statuses}, run


def main() -> None:
    results: dict[str, Any] = {"world": SIZE.__dict__, "days": DAYS, "tools": {}}
    with bench_services("peers", seed=13, size=SIZE, require_appsecret_proof=False) as services:
        sandbox, info = services.sandbox, services.info
        truth = sandbox.truth()
        user = info["users"][0]
        accounts = user["ad_account_ids"]
        last = date.fromisoformat(truth["windows"][accounts[0].removeprefix("act_")][1])
        first = last - timedelta(days=DAYS - 1)
        extra, run = _metasync(services, first, last)
        results["tools"]["metasync"] = {
            **extra,
            "seconds": round(run.seconds, 1),
            "score": score_against_truth(
                run,
                truth,
                accounts,
                first,
                last,
                streams=METASYNC_STREAMS,
                insights_stream="ads_insights",
            ),
        }
        with tempfile.TemporaryDirectory() as tmp:
            for name, runner, streams in (
                ("airbyte", run_airbyte, AIRBYTE_STREAMS),
                ("singer", run_singer, SINGER_STREAMS),
            ):
                sandbox.control("POST", "counters")
                peer = runner(sandbox.url, user["token"], accounts, first, last, Path(tmp) / name)
                counters = sandbox.control("GET", "counters")
                results["tools"][name] = {
                    "calls": counters["graph_calls"],
                    "by_path": counters["by_path"],
                    "seconds": round(peer.seconds, 1),
                    "ok": peer.ok,
                    "errors": peer.errors[:5],
                    "score": score_against_truth(
                        peer,
                        truth,
                        accounts,
                        first,
                        last,
                        streams=streams,
                        insights_stream="ads_insights",
                    ),
                }
    rows = []
    for name, result in results["tools"].items():
        score = result["score"]
        objects = sum(score[k]["read"] for k in METASYNC_STREAMS.values())
        expected = sum(score[k]["expected"] for k in METASYNC_STREAMS.values())
        hidden = sum(score[k]["read_hidden"] for k in METASYNC_STREAMS.values())
        hidden_expected = sum(score[k]["expected_hidden"] for k in METASYNC_STREAMS.values())
        daily = score["daily_rows"]
        rows.append(
            [
                name,
                result["calls"],
                result["seconds"],
                f"{objects}/{expected}",
                f"{hidden}/{hidden_expected}",
                f"{daily['read']}/{daily['expected']}",
                f"{daily['read_hidden']}/{daily['expected_hidden']}",
                daily["duplicates"] + daily["unknown"],
            ]
        )
    print(
        table(
            [
                "tool",
                "calls",
                "seconds",
                "live objects",
                "archived+deleted objects",
                "live daily rows",
                "archived+deleted rows",
                "dup/unknown rows",
            ],
            rows,
        )
    )
    metasync = results["tools"]["metasync"]
    print(f"metasync with its default 4 levels of daily rows: {metasync['calls_all_levels']} calls")
    print(f"saved {save('peers', results)}")


if __name__ == "__main__":
    main()
