"""Leads through real Celery workers: the scheduled task backfills every lead of a world with
lead forms (the ground truth's count per ad), and a ``leadgen`` webhook delivered to the web
app reaches MongoDB through a worker. Task arguments carry ids only."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from celery import Celery

from metasync.embedded import Workers
from metasync.models import MetaConnection, WebhookEvent, WebhookStatus
from metasync.models.leads import Lead, LeadForm
from metasync.sandbox.world import WorldSize
from tests.support.sandbox import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def world_size() -> WorldSize:
    return WorldSize(
        users=2,
        accounts_per_user=1,
        campaigns_per_account=2,
        adsets_per_campaign=1,
        ads_per_adset=2,
        days=5,
        lead_forms_per_page=1,
        leads_per_form=50,
    )


def _wait(condition: object, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_leads_arrive_by_backfill_and_by_webhook_through_workers(
    world: Sandbox,
    connections: list[MetaConnection],
    workers: Workers,
    web_url: str,
    celery_client: Celery,
) -> None:
    for connection in connections:
        celery_client.send_task("metasync.sync_leads", args=[str(connection.pk)])
    truth = world.control("GET", "ground-truth/leads")
    _wait(lambda: Lead.objects.count() == truth["total"])
    assert dict(Counter(lead.ad_id for lead in Lead.objects if lead.ad_id)) == truth["by_ad"]

    form = LeadForm.objects.first()
    made = world.control(
        "POST",
        "leads/new",
        {"form_id": form.form_id, "count": 1, "callback_url": f"{web_url}/webhooks/meta"},
    )
    assert made["webhooks"][0]["statuses"] == [200]
    _wait(lambda: Lead.objects(lead_id=made["leads"][0]).count() == 1, timeout=30)
    _wait(lambda: WebhookEvent.objects.get().status == WebhookStatus.PROCESSED, timeout=30)
    log = workers.log_text()
    assert "metasync.sync_leads[" in log and "metasync.webhook_change[" in log
    assert "example.com" not in log and "5550" not in log
