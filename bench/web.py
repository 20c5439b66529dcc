"""What the operator's surfaces cost as a deployment grows: a /metrics scrape, the console's
overview, and pages of the REST API, against mirrors of 10, 100 and 400 ad accounts.

Each mirror is planted straight into a scratch MongoDB-wire server (one connection per 10
accounts, 30 days of account-level rows and one sync run per account), then the web app is
called in-process (no network), each request 3 times, the fastest kept. The raw baseline is one
pymongo read of every account-level row of the mirror: the figure the per-account costs are
compared with in the same run (these machines are shared, so only ratios mean anything).

    .venv/bin/python -m bench.web
"""

from __future__ import annotations

import secrets
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import redis
from bson import Decimal128, ObjectId
from fastapi.testclient import TestClient

from bench.common import REDIS_URL, save, table
from metasync import db
from metasync.api.keys import create_key
from metasync.config import load_settings
from metasync.console.auth import hash_password
from metasync.embedded import start_mongo
from metasync.models import utcnow
from metasync.webhooks.app import create_app

SIZES = (10, 100, 400)
DAYS = 30
PASSWORD = secrets.token_urlsafe(16)  # the console user of this run


def _plant(accounts: int) -> None:
    """``accounts`` ad accounts of one tenant, 10 per connection, 30 days of rows each."""
    database = db.database()
    now, today = utcnow(), date.today()
    connections, states, rows, runs = [], [], [], []
    for number in range(accounts):
        account = f"{700000 + number}"
        if number % 10 == 0:
            connection_id = ObjectId()
            connections.append(
                {
                    "_id": connection_id,
                    "tenant_id": "bench",
                    "meta_user_id": str(number),
                    "status": "ACTIVE",
                    "ad_account_ids": [],
                    "created_at": now,
                    "token_expires_at": now + timedelta(days=40),
                }
            )
        connections[-1]["ad_account_ids"].append(account)
        states.append(
            {
                "connection_id": str(connection_id),
                "account_id": account,
                "tenant_id": "bench",
                "state": "active",
                "last_outcome": "succeeded",
                "last_performance_sync_at": now,
            }
        )
        database.ad_accounts.insert_one(
            {
                "tenant_id": "bench",
                "meta_id": f"act_{account}",
                "account_id": account,
                "timezone_name": "UTC",
            }
        )
        for back in range(1, DAYS + 1):
            rows.append(
                {
                    "tenant_id": "bench",
                    "account_id": account,
                    "level": "account",
                    "entity_id": account,
                    "date": (today - timedelta(days=back)).isoformat(),
                    "breakdown_key": "",
                    "attribution_key": "default",
                    "spend": Decimal128(Decimal("12.34")),
                    "impressions": 1000,
                }
            )
        runs.append(
            {
                "connection_id": str(connection_id),
                "tenant_id": "bench",
                "kind": "performance",
                "status": "succeeded",
                "started_at": now,
                "finished_at": now,
                "rows": {"account": DAYS},
                "api_calls": 4,
                "errors": [],
            }
        )
    database.meta_connections.insert_many(connections)
    database.account_sync_states.insert_many(states)
    database.daily_insights.insert_many(rows)
    database.sync_runs.insert_many(runs)


def _fastest(call: Any, times: int = 3) -> float:
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        answer = call()
        best = min(best, time.perf_counter() - started)
        assert answer.status_code == 200, answer.text[:300]
    return best


def _measure(client: TestClient, key: str) -> dict[str, float]:
    auth = {"Authorization": f"Bearer {key}"}
    raw_started = time.perf_counter()
    list(db.database().daily_insights.find({"tenant_id": "bench", "level": "account"}))
    raw = time.perf_counter() - raw_started
    return {
        "raw_read_s": raw,
        "metrics_s": _fastest(lambda: client.get("/metrics", auth=("ops", PASSWORD))),
        "console_overview_s": _fastest(lambda: client.get("/console")),
        "api_health_s": _fastest(lambda: client.get("/api/v1/health", headers=auth)),
        "api_insights_page_s": _fastest(
            lambda: client.get(
                "/api/v1/insights", headers=auth, params={"level": "account", "limit": 500}
            )
        ),
    }


def main() -> None:
    import tempfile
    from pathlib import Path

    results: dict[str, Any] = {"sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        mongo = start_mongo(Path(tmp) / "mongo")
        try:
            for accounts in SIZES:
                name = f"bench_web_{accounts}"
                env = {
                    "META_APP_ID": "1",
                    "META_APP_SECRET": "bench-secret",
                    "META_APP_VERIFY_TOKEN": "bench",
                    "MONGODB_URI": f"{mongo.url}{name}",
                    "REDIS_URL": REDIS_URL,
                    "ENCRYPTION_KEY": secrets.token_hex(32),
                    "REDIS_KEY_PREFIX": f"bench-web-{secrets.token_hex(4)}:",
                    "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}",
                }
                settings = load_settings(env)
                db.connect(settings.MONGODB_URI)
                db.ensure_indexes()
                _plant(accounts)
                _, key = create_key("bench")
                app = create_app(
                    settings, lambda c, k: None, redis.Redis.from_url(REDIS_URL), connect_db=False
                )
                with TestClient(app) as client:
                    client.post("/console/login", data={"username": "ops", "password": PASSWORD})
                    figures = _measure(client, key)
                results["sizes"][accounts] = figures
                db.database().client.drop_database(name)
        finally:
            mongo.stop()
    rows = []
    for accounts, f in results["sizes"].items():
        rows.append(
            [
                accounts,
                f["raw_read_s"] * 1000,
                f["metrics_s"] * 1000,
                f["metrics_s"] / accounts * 1000,
                f["metrics_s"] / f["raw_read_s"],
                f["console_overview_s"] * 1000,
                f["api_health_s"] * 1000,
                f["api_insights_page_s"] * 1000,
            ]
        )
    print(
        table(
            [
                "accounts",
                "raw read ms",
                "/metrics ms",
                "ms/account",
                "x raw read",
                "console ms",
                "api health ms",
                "api 500 rows ms",
            ],
            rows,
        )
    )
    print(f"saved to {save('web', results)}")


if __name__ == "__main__":
    main()
