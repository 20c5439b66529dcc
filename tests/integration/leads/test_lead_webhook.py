"""A lead announced by the Page webhook's ``leadgen`` field reaches the mirror: the sandbox
signs and delivers it to the real webhook app (uvicorn), whose queued change is processed as
the worker's task does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
import uvicorn

from metasync.config import load_settings
from metasync.embedded import free_port
from metasync.leads import lead_answers
from metasync.leads.pages import subscribe_pages
from metasync.leads.sync import sync_leads
from metasync.models import MetaConnection, WebhookEvent, WebhookStatus
from metasync.models.leads import Lead, LeadForm
from metasync.sync import SyncContext
from metasync.webhooks import Change
from metasync.webhooks.app import create_app
from metasync.webhooks.process import process_change
from tests.support.sandbox import Sandbox


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, "META_APP_VERIFY_TOKEN": "verify-leads"}


@pytest.fixture
def webhook_url(
    sync_env: dict[str, str], redis_client: redis.Redis, ctx: SyncContext
) -> Iterator[tuple[str, list[tuple[Change, str]]]]:
    queued: list[tuple[Change, str]] = []
    app = create_app(
        load_settings(sync_env),
        lambda change, key: queued.append((change, key)),
        redis_client,
        connect_db=False,
    )
    port = free_port()
    served = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=served.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/webhooks/meta", queued
    served.should_exit = True
    thread.join(timeout=30)


def test_a_leadgen_webhook_stores_the_lead_once_and_the_backfill_closes_the_gap(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    webhook_url: tuple[str, list[tuple[Change, str]]],
) -> None:
    url, queued = webhook_url
    connection = connections[1]
    sync_leads(ctx, connection)  # pages and their tokens known; the backlog read
    before = Lead.objects(tenant_id=connection.tenant_id).count()
    for other in connections[:1]:
        sync_leads(ctx, other)
    form_id = LeadForm.objects(tenant_id=connection.tenant_id).first().form_id
    unsubscribed = world.control("POST", "leads/new", {"form_id": form_id, "count": 1})
    assert unsubscribed["webhooks"][0]["sent"] is False  # Meta sends nothing yet
    app_id = world.info["app_id"]  # the app's own subscription (an app token at Meta)
    world.post(f"{app_id}/subscriptions", object="page", callback_url=url, fields="leadgen")
    outcome = subscribe_pages(ctx)
    assert set(outcome.values()) == {"subscribed"} and len(outcome) == 2
    made = world.control("POST", "leads/new", {"form_id": form_id, "count": 1, "times": 2})
    assert made["webhooks"][0]["statuses"] == [200, 200]  # Meta re-delivers: one task
    assert len(queued) == 1
    change, key = queued[0]
    assert change.field == "leadgen"
    assert "field_data" not in str(change.as_kwargs())  # ids only travel to the worker
    assert process_change(ctx, change, key) == WebhookStatus.PROCESSED
    lead = Lead.objects.get(tenant_id=connection.tenant_id, lead_id=made["leads"][0])
    assert lead.received_via == "webhook" and lead.form_id == form_id
    assert any(item["name"] == "email" for item in lead_answers(lead, ctx.cipher))
    assert Lead.objects(tenant_id=connection.tenant_id).count() == before + 1
    assert WebhookEvent.objects.get(dedupe_key=key).status == WebhookStatus.PROCESSED
    sync_leads(ctx, connection)  # the sync reads it again, and the lead no webhook announced
    assert Lead.objects(tenant_id=connection.tenant_id).count() == before + 2
    missed = Lead.objects.get(lead_id=unsubscribed["leads"][0])
    assert missed.received_via == "sync"
