"""Webhooks: acknowledgement latency under a burst, and the time until MongoDB shows a change.

``metasync web`` with two real workers, against the sandbox. A burst of 300 distinct signed
notifications from 16 concurrent senders measures the acknowledgement (the work is queued, not
waited for); then 10 real changes made in the sandbox, each delivered as a signed webhook,
measure the time until the mirrored ad shows its new status.

    .venv/bin/python -m bench.webhooks
"""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench.common import bench_services, connected, save, table
from metasync import db
from metasync.embedded import Workers, start_web
from metasync.models import Ad
from metasync.sandbox.world import WorldSize
from metasync.sync import run_inline
from metasync.sync.connections import add_connection

SIZE = WorldSize(
    users=1,
    accounts_per_user=1,
    campaigns_per_account=4,
    adsets_per_campaign=2,
    ads_per_adset=3,
    days=3,
)
BURST, SENDERS, CHANGES = 300, 16, 10


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    with bench_services("web", seed=4, size=SIZE) as services:
        sandbox, info = services.sandbox, services.info
        env = services.environment("bench_webhooks", META_APP_VERIFY_TOKEN="bench")  # noqa: S106 - a benchmark value
        web = start_web(env, services.folder / "web.log")
        workers = Workers(env, services.folder, count=2)
        try:
            workers.start()
            ctx = connected(env)
            connection = add_connection(ctx, "tenant", info["users"][0]["token"])
            run_inline(ctx, str(connection.pk))
            url = f"{web.url}/webhooks/meta"
            account = connection.ad_account_ids[0]
            secret = info["app_secret"].encode()
            session = requests.Session()

            def send(number: int) -> float:
                body = json.dumps(
                    {
                        "object": "ad_account",
                        "entry": [
                            {
                                "id": account,
                                "time": 1700000000 + number,
                                "changes": [
                                    {"field": "creative_fatigue", "value": {"ad_id": str(number)}}
                                ],
                            }
                        ],
                    }
                ).encode()
                signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
                started = time.perf_counter()
                answer = session.post(
                    url,
                    data=body,
                    timeout=30,
                    headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
                )
                assert answer.status_code == 200
                return (time.perf_counter() - started) * 1000

            burst_started = time.perf_counter()
            with ThreadPoolExecutor(SENDERS) as pool:
                acks = list(pool.map(send, range(BURST)))
            burst_seconds = time.perf_counter() - burst_started

            ads = [
                a
                for a in sandbox.truth()["ads"]
                if a["effective_status"] == "ACTIVE" and not a["issues_info"]
            ][:CHANGES]
            visible: list[float] = []
            for ad in ads:
                started = time.perf_counter()
                sandbox.control(
                    "POST",
                    "mutate",
                    {"id": ad["id"], "action": "issues", "notify": True, "callback_url": url},
                )
                while Ad.objects.get(meta_id=ad["id"]).effective_status != "WITH_ISSUES":
                    time.sleep(0.02)
                visible.append((time.perf_counter() - started) * 1000)
            db.database().client.drop_database("bench_webhooks")
        finally:
            workers.stop()
            web.stop()
    report: dict[str, Any] = {
        "burst": BURST,
        "senders": SENDERS,
        "ack_ms": {
            "p50": percentile(acks, 0.5),
            "p99": percentile(acks, 0.99),
            "mean": statistics.fmean(acks),
        },
        "burst_per_second": BURST / burst_seconds,
        "change_visible_ms": {
            "p50": percentile(visible, 0.5),
            "p99": percentile(visible, 0.99),
            "max": max(visible),
        },
    }
    print(
        table(
            ["measure", "p50 ms", "p99 ms"],
            [
                [
                    f"acknowledgement, burst of {BURST} from {SENDERS} senders",
                    round(report["ack_ms"]["p50"], 1),
                    round(report["ack_ms"]["p99"], 1),
                ],
                [
                    f"change made in the sandbox until MongoDB shows it ({CHANGES} changes)",
                    round(report["change_visible_ms"]["p50"], 1),
                    round(report["change_visible_ms"]["p99"], 1),
                ],
            ],
        )
    )
    print(f"burst throughput: {report['burst_per_second']:.0f} notifications/s")
    print(f"saved {save('webhooks', report)}")


if __name__ == "__main__":
    main()
