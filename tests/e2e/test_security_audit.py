"""Security audit: during a full run with known tokens and app secret, no plaintext secret in
any log line, Redis key or value (broker messages decoded), Flower's API or MongoDB document;
and every request the sandbox received carried a valid appsecret_proof."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from celery import Celery

from metasync import db
from metasync.embedded import Workers
from metasync.models import MetaConnection, SyncRun, WebhookEvent, WebhookStatus
from tests.e2e.conftest import FLOWER_AUTH
from tests.support.sandbox import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def redis_texts(client: redis.Redis, prefix: str) -> list[str]:
    """Every key under ``prefix`` and every value, broker message bodies base64-decoded."""
    texts: list[str] = []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        kind = client.type(key).decode()
        values: list[bytes] = []
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "list":
            values = list(client.lrange(key, 0, -1))
        elif kind == "hash":
            values = [v for pair in client.hgetall(key).items() for v in pair]
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = list(client.zrange(key, 0, -1))
        texts.append(key.decode(errors="replace"))
        for raw in values:
            text = raw.decode(errors="replace")
            texts.append(text)
            texts.extend(_decoded_bodies(text))
    return texts


def _decoded_bodies(text: str) -> list[str]:
    try:
        message = json.loads(text)
    except ValueError:
        return []
    found: list[str] = []
    for candidate in message if isinstance(message, list) else [message]:
        if isinstance(candidate, dict) and isinstance(candidate.get("body"), str):
            try:
                found.append(base64.b64decode(candidate["body"]).decode(errors="replace"))
            except ValueError:
                found.append(candidate["body"])
    return found


def mongo_texts() -> list[str]:
    database = db.database()
    return [
        repr(document)
        for name in database.list_collection_names()
        for document in database[name].find()
    ]


def test_no_secret_anywhere_and_every_call_proven(
    world: Sandbox,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    workers: Workers,
    web_url: str,
    flower_url: str,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    world.control("POST", "faults", {"job_seconds": 0.3, "error_5xx_rate": 0.05, "seed": 3})
    for connection in connections:
        celery_client.send_task("metasync.sync_connection", args=[str(connection.pk)])
    wait_for_runs(len(connections))
    for connection in connections:
        celery_client.send_task(
            "metasync.sync_connection", args=[str(connection.pk)], kwargs={"kind": "performance"}
        )
    wait_for_runs(2 * len(connections), timeout=180)
    ad = next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] in connections[0].ad_account_ids and a["effective_status"] == "ACTIVE"
    )
    world.control(
        "POST",
        "mutate",
        {
            "id": ad["id"],
            "action": "issues",
            "notify": True,
            "callback_url": f"{web_url}/webhooks/meta",
        },
    )
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and WebhookEvent.objects(status=WebhookStatus.PROCESSED).count() == 0
    ):
        time.sleep(0.2)
    assert WebhookEvent.objects(status=WebhookStatus.PROCESSED).count() == 1

    secrets: dict[str, str] = {f"token of {u['id']}": u["token"] for u in world.info["users"]}
    secrets["app secret"] = sync_env["META_APP_SECRET"]
    secrets["encryption key"] = sync_env["ENCRYPTION_KEY"]
    flower: dict[str, Any] = requests.get(
        f"{flower_url}/api/tasks", auth=FLOWER_AUTH, timeout=10
    ).json()
    assert flower, "Flower saw the tasks"
    places = {
        "worker logs": [workers.log_text()],
        "web log": [(tmp_path / "web.log").read_text(errors="replace")],
        "flower log and API": [
            (tmp_path / "flower.log").read_text(errors="replace"),
            json.dumps(flower),
        ],
        "redis": redis_texts(redis_client, sync_env["REDIS_KEY_PREFIX"]),
        "mongodb": mongo_texts(),
    }
    assert len(places["redis"]) > 10 and len(places["mongodb"]) > 100
    hits = [
        f"{what} in {where}"
        for where, texts in places.items()
        for text in texts
        for what, secret in secrets.items()
        if secret in text
    ]
    assert hits == []
    proof = world.control("GET", "counters")["proof"]
    assert proof.get("valid", 0) > 50
    assert proof.get("missing", 0) == 0 and proof.get("invalid", 0) == 0
