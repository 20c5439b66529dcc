"""What the operator's surfaces cost as a deployment grows: the console's overview (a page, a
flag filter, the 5-second table refresh) and a /metrics scrape, at 100, 2,000 and 10,000 ad
accounts, in MongoDB commands per request and in milliseconds (p50 and p95).

Each fleet is planted straight into a scratch MongoDB-wire server (10 accounts per connection,
two days of account-level rows, every fifth account's last run failed, one run per
connection), then its health records are written as the runs closing would write them
(``refresh_health``, timed for the whole tenant and for one connection, as a closing run
writes them), then the web app is called in-process (no network): each page
``REPEAT`` times, each scrape ``SCRAPES`` times. Commands are counted with a pymongo command
listener. The goal: commands per page and per scrape the same at every size, overview p95 under
300 ms at 10,000 accounts.

    .venv/bin/python -m bench.web
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from bson import Decimal128, ObjectId
from fastapi.testclient import TestClient

from bench.common import REDIS_URL, save, table
from metasync import db
from metasync.config import load_settings
from metasync.console.auth import hash_password
from metasync.embedded import start_mongo
from metasync.health.records import refresh_health
from metasync.models import utcnow
from metasync.webhooks.app import create_app
from tests.support.commands import command_counter
from tests.support.console import login

SIZES = (100, 2_000, 10_000)
REPEAT, SCRAPES = 30, 5
PASSWORD = secrets.token_urlsafe(16)  # the console user of this run
SCRAPE_TOKEN = secrets.token_urlsafe(24)


COMMANDS = command_counter()


def _connection(number: int, connection_id: ObjectId, now: datetime) -> dict[str, Any]:
    """The connection of accounts ``number`` to ``number + 9``; its token good 40 more days."""
    return {
        "_id": connection_id,
        "tenant_id": "bench",
        "name": f"c{number}",
        "meta_user_id": str(number),
        "status": "ACTIVE",
        "ad_account_ids": [],
        "created_at": now,
        "token_expires_at": now + timedelta(days=40),
    }


def _run(connection_id: ObjectId, now: datetime) -> dict[str, Any]:
    """The connection's one run: a performance sync that succeeded (4 calls, 2 rows)."""
    return {
        "connection_id": str(connection_id),
        "tenant_id": "bench",
        "kind": "performance",
        "status": "succeeded",
        "started_at": now,
        "finished_at": now,
        "rows": {"account": 2},
        "api_calls": 4,
        "errors": [],
    }


def _sync_state(
    connection_id: ObjectId, account: str, now: datetime, failed: bool
) -> dict[str, Any]:
    """The account's sync state: active, its last performance sync ``failed`` or not."""
    return {
        "connection_id": str(connection_id),
        "account_id": account,
        "tenant_id": "bench",
        "state": "active",
        "last_performance_sync_at": now,
        "last_outcome": "failed" if failed else "succeeded",
    }


def _ad_account(number: int, account: str) -> dict[str, Any]:
    """The ad account itself (UTC, euros)."""
    return {
        "tenant_id": "bench",
        "meta_id": f"act_{account}",
        "account_id": account,
        "name": f"Account {number}",
        "timezone_name": "UTC",
        "currency": "EUR",
    }


def _account_row(account: str, day: date) -> dict[str, Any]:
    """One account-level daily row of ``day``: 12.34 spent, 1,000 impressions."""
    return {
        "tenant_id": "bench",
        "account_id": account,
        "level": "account",
        "entity_id": account,
        "date": day.isoformat(),
        "breakdown_key": "",
        "attribution_key": "default",
        "spend": Decimal128(Decimal("12.34")),
        "impressions": 1000,
    }


def _plant(accounts: int) -> None:
    database = db.database()
    now, today = utcnow(), date.today()
    connections: list[dict[str, Any]] = []
    states, rows, runs, ad_accounts = [], [], [], []
    for number in range(accounts):
        account = f"{700000 + number}"
        if number % 10 == 0:
            connection_id = ObjectId()
            connections.append(_connection(number, connection_id, now))
            runs.append(_run(connection_id, now))
        connections[-1]["ad_account_ids"].append(account)
        states.append(_sync_state(connection_id, account, now, failed=number % 5 == 0))
        ad_accounts.append(_ad_account(number, account))
        for back in (1, 2):
            rows.append(_account_row(account, today - timedelta(days=back)))
    planted = {
        "meta_connections": connections,
        "account_sync_states": states,
        "ad_accounts": ad_accounts,
        "daily_insights": rows,
        "sync_runs": runs,
    }
    for name, documents in planted.items():
        database[name].insert_many(documents)


def _timed(call: Callable[[], Any], times: int) -> dict[str, float]:
    seconds, commands, answers = [], [], []
    for _ in range(times):
        started = time.perf_counter()
        commands.append(len(COMMANDS.sent_by(lambda: answers.append(call()))))
        seconds.append(time.perf_counter() - started)
        assert answers[-1].status_code == 200, answers[-1].text[:300]
    ordered = sorted(seconds)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000,
        "commands": max(commands),
        "commands_min": min(commands),
    }


def _fleet(mongo_url: str, accounts: int) -> dict[str, Any]:
    name = f"bench_web_{accounts}"
    environment = {
        "META_APP_ID": "1",
        "META_APP_SECRET": "bench-secret",
        "META_APP_VERIFY_TOKEN": "bench",
        "MONGODB_URI": f"{mongo_url}{name}",
        "REDIS_URL": REDIS_URL,
        "ENCRYPTION_KEY": secrets.token_hex(32),
        "REDIS_KEY_PREFIX": f"bench-web-{secrets.token_hex(4)}:",
        "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}",
        "METRICS_TOKEN": SCRAPE_TOKEN,
    }
    settings = load_settings(environment)
    db.connect(settings.MONGODB_URI)
    db.ensure_indexes()
    _plant(accounts)
    started = time.perf_counter()
    refresh_health("bench")
    figures: dict[str, Any] = {"refresh_health_s": time.perf_counter() - started}
    connection = db.database().meta_connections.find_one({}, {"_id": 1})
    started = time.perf_counter()
    refresh_health("bench", str(connection["_id"]))  # what a closing run pays
    figures["refresh_connection_s"] = time.perf_counter() - started
    app = create_app(settings, lambda c, k: None, redis.Redis.from_url(REDIS_URL), connect_db=False)
    scrape = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
    with TestClient(app) as client:
        login(client, PASSWORD)
        figures["overview"] = _timed(lambda: client.get("/console"), REPEAT)
        figures["overview_failing"] = _timed(lambda: client.get("/console?flag=failing"), REPEAT)
        figures["table_refresh"] = _timed(
            lambda: client.get("/console/overview/table?page=3"), REPEAT
        )
        figures["metrics"] = _timed(lambda: client.get("/metrics", headers=scrape), SCRAPES)
    db.database().client.drop_database(name)
    return figures


def main() -> None:
    results: dict[str, Any] = {"sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        mongo = start_mongo(Path(tmp) / "mongo")
        try:
            for accounts in SIZES:
                results["sizes"][accounts] = _fleet(mongo.url, accounts)
                print(f"{accounts} accounts measured", flush=True)
        finally:
            mongo.stop()
    rows = []
    for accounts, f in results["sizes"].items():
        for surface in ("overview", "overview_failing", "table_refresh", "metrics"):
            s = f[surface]
            rows.append([accounts, surface, s["commands"], s["p50_ms"], s["p95_ms"]])
    print(table(["accounts", "request", "Mongo commands", "p50 ms", "p95 ms"], rows))
    refresh_rows = [
        [accounts, f["refresh_health_s"], f["refresh_connection_s"] * 1000]
        for accounts, f in results["sizes"].items()
    ]
    print(table(["accounts", "whole tenant s", "one connection ms"], refresh_rows))
    print(f"saved to {save('web', results)}")


if __name__ == "__main__":
    main()
