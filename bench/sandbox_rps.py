"""How many Graph requests per second the sandbox serves on this machine.

Starts a sandbox (one uvicorn process), then 1, 2 and 4 client processes, each with a keep-alive
session, issuing a fixed mix for ``--seconds``: an edge page (25 ads with fields), an object
read and an insights page (25 daily ad rows). Prints a table, saves bench/results/sandbox_rps.json.

    .venv/bin/python -m bench.sandbox_rps [--seconds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.common import save, table
from metasync.sandbox.server import SandboxControl, start_sandbox
from metasync.sandbox.world import WorldSize


def _client(
    graph_url: str,
    secret: str,
    user: dict[str, Any],
    ad_id: str,
    seconds: float,
    out: multiprocessing.Queue,
) -> None:  # type: ignore[type-arg]
    session = requests.Session()
    token = user["token"]
    proof = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    account = user["ad_account_ids"][0]
    mix = [
        (
            f"{account}/ads",
            {"fields": "id,name,effective_status,adset_id,campaign_id", "limit": 25},
        ),
        (ad_id, {"fields": "id,name,status,creative"}),
        (
            f"{account}/insights",
            {
                "level": "ad",
                "time_increment": 1,
                "date_preset": "last_7d",
                "fields": "ad_id,impressions,spend,actions",
                "limit": 25,
            },
        ),
    ]
    done = errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        path, params = mix[done % len(mix)]
        answer = session.get(
            f"{graph_url}/{path}",
            params={**params, "appsecret_proof": proof},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        errors += answer.status_code != 200
        done += 1
    out.put((done, errors))


def run(seconds: float) -> dict[str, Any]:
    size = WorldSize(
        users=2,
        accounts_per_user=2,
        campaigns_per_account=10,
        adsets_per_campaign=3,
        ads_per_adset=4,
        days=30,
    )
    with tempfile.TemporaryDirectory() as folder:
        service, info = start_sandbox(Path(folder), seed=1, size=size)
        try:
            user = info["users"][0]
            truth = SandboxControl(service.url).control("GET", "ground-truth?levels=ad")
            ad_id = next(
                a["id"]
                for a in truth["ads"]
                if f"act_{a['account_id']}" == user["ad_account_ids"][0]
            )
            rows = []
            context = multiprocessing.get_context("spawn")
            for clients in (1, 2, 4):
                out = context.Queue()
                processes = [
                    context.Process(
                        target=_client,
                        args=(info["graph_url"], info["app_secret"], user, ad_id, seconds, out),
                    )
                    for _ in range(clients)
                ]
                started = time.monotonic()
                for process in processes:
                    process.start()
                results = [out.get(timeout=seconds + 120) for _ in processes]
                elapsed = time.monotonic() - started
                for process in processes:
                    process.join()
                done = sum(r[0] for r in results)
                rows.append(
                    {
                        "clients": clients,
                        "requests": done,
                        "errors": sum(r[1] for r in results),
                        "requests_per_second": done / seconds,
                        "wall_seconds": round(elapsed, 2),
                    }
                )
        finally:
            service.stop()
    return {"seconds_per_step": seconds, "world": size.__dict__, "results": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    report = run(args.seconds)
    print(
        table(
            ["clients", "requests", "errors", "req/s"],
            [
                [r["clients"], r["requests"], r["errors"], r["requests_per_second"]]
                for r in report["results"]
            ],
        )
    )
    print(f"saved {save('sandbox_rps', report)}")


if __name__ == "__main__":
    main()
