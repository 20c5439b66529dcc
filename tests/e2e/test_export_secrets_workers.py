"""A destination password given as ``?password=`` (a shape a URL parser and libpq both read,
and the old label kept) through real workers: exported with it, failed with it, and found in
none of the task messages, results, the worker log, Flower's task view or MongoDB."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
import requests
from celery import Celery
from psycopg import sql

from metasync import db
from metasync.export.targets import set_target
from metasync.models import ExportRun, MetaConnection
from metasync.sync import SyncContext
from tests.e2e.conftest import FLOWER_AUTH
from tests.support.workers import Workers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_a_query_password_leaks_from_no_worker_task_or_flower(
    ctx: SyncContext,
    connections: list[MetaConnection],
    workers: Workers,
    flower_url: str,
    celery_client: Celery,
    postgres_url: str,
    sync_env: dict[str, str],
) -> None:
    head, tail = secrets.token_hex(6), secrets.token_hex(6)
    password = f"{head}+{tail}"
    role = f"ms_worker_{secrets.token_hex(3)}"
    parts = urlsplit(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        admin.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(parts.path.lstrip("/")), sql.Identifier(role)
            )
        )
    try:
        working, failing = connections[0].tenant_id, connections[1].tenant_id
        server = f"{parts.hostname}:{parts.port or 5432}{parts.path}"
        set_target(ctx.cipher, working, f"postgresql://{role}@{server}?password={password}")
        set_target(ctx.cipher, failing, f"postgresql://{role}@127.0.0.1:1/w?password={password}")
        for tenant in (working, failing):
            celery_client.send_task("metasync.export_warehouse", kwargs={"tenant_id": tenant})
        deadline = time.monotonic() + 120
        while not (
            ExportRun.objects(tenant_id=failing, status="failed").count()
            and ExportRun.objects(tenant_id=working, status="succeeded").count()
        ):
            assert time.monotonic() < deadline, workers.log_text()[-3000:]
            time.sleep(0.3)
        tasks: dict[str, dict[str, object]] = {}
        retried: list[object] = []
        while time.monotonic() < deadline:  # Flower has seen both, the failure retried
            tasks = requests.get(f"{flower_url}/api/tasks", auth=FLOWER_AUTH, timeout=10).json()
            ours = [t for t in tasks.values() if t.get("name") == "metasync.export_warehouse"]
            retried = [t.get("retries") for t in ours if t.get("state") != "SUCCESS"]
            if len(ours) == 2 and retried:
                break
            time.sleep(1)
        assert len(retried) == 1, tasks
        client = redis.Redis.from_url(sync_env["REDIS_URL"])
        broker = "\n".join(  # task messages, the retry waiting among them (no result backend)
            repr(client.dump(key)) for key in client.scan_iter(f"{sync_env['REDIS_KEY_PREFIX']}*")
        )
        database = db.database()
        stored = "\n".join(
            repr(doc) for name in database.list_collection_names() for doc in database[name].find()
        )
        for where, text in {
            "the worker log": workers.log_text(),
            "Flower (arguments, results, exceptions)": str(tasks),
            "Redis (task messages)": broker,
            "MongoDB": stored,
        }.items():
            assert head not in text and tail not in text, where
        assert "127.0.0.1:1" in workers.log_text()  # the failure was logged, without it
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
