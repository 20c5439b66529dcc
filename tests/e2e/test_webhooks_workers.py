"""A change in the sandbox sends a signed webhook; the app queues it; a worker refetches it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from celery import Celery

from metasync.embedded import Workers
from metasync.models import Ad, MetaConnection, SyncRun, WebhookEvent, WebhookStatus
from tests.support.sandbox import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_a_change_reaches_mongodb_within_seconds_once(
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    web_url: str,
    celery_client: Celery,
    wait_for_runs: Callable[..., list[SyncRun]],
) -> None:
    connection = connections[0]
    celery_client.send_task("metasync.sync_connection", args=[str(connection.pk)])
    wait_for_runs(1)
    ad = next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] in connection.ad_account_ids
        and a["effective_status"] == "ACTIVE"
        and not a["issues_info"]
    )
    started = time.monotonic()
    sent = world.control(
        "POST",
        "mutate",
        {
            "id": ad["id"],
            "action": "issues",
            "notify": True,
            "callback_url": f"{web_url}/webhooks/meta",
            "times": 3,
        },
    )
    assert sent["webhook"]["statuses"] == [200, 200, 200]  # Meta re-delivers; all acknowledged
    while time.monotonic() - started < 30:
        stored = Ad.objects.get(meta_id=ad["id"])
        if stored.effective_status == "WITH_ISSUES":
            break
        time.sleep(0.1)
    assert stored.effective_status == "WITH_ISSUES" and stored.issues_info
    assert time.monotonic() - started < 15
    events = list(WebhookEvent.objects)
    assert len(events) == 1  # three deliveries, one change
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and WebhookEvent.objects.get().status == (
        WebhookStatus.QUEUED
    ):
        time.sleep(0.1)
    assert WebhookEvent.objects.get().status == WebhookStatus.PROCESSED
    assert workers.log_text().count("metasync.webhook_change[") >= 1
