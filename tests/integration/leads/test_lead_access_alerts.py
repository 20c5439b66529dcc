"""A page whose leads Meta refuses (``leads_retrieval`` not granted, Meta's "Retrieving Leads")
is not only in ``metasync leads pages``: the notifier opens an alert saying why and what to do,
the console's open alerts link it to the tenant's Lead Ads page, and that page lists each page's
access with Meta's message, its forms and lead counts, and never a lead's answers."""

from __future__ import annotations

import re
from urllib.parse import quote

import redis
from fastapi.testclient import TestClient

from metasync.alerts import check_alerts
from metasync.config import load_settings
from metasync.console.alerts_page import open_alerts
from metasync.console.auth import hash_password
from metasync.leads.sync import sync_leads
from metasync.models import MetaConnection
from metasync.models.leads import Lead, LeadAccessState, LeadPage
from metasync.sandbox.leads import LEAD_SCOPES
from metasync.sync import SyncContext
from metasync.webhooks.app import create_app
from tests.support.console import login
from tests.support.sandbox import Sandbox

PASSWORD = "a long enough password"
WITHOUT_LEADS = ["ads_read", "ads_management", "pages_show_list", "pages_manage_ads"]


def _console(sync_env: dict[str, str], redis_client: redis.Redis) -> TestClient:
    settings = load_settings(
        {
            **sync_env,
            "META_APP_VERIFY_TOKEN": "verify",
            "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}",
        }
    )
    app = create_app(
        settings,
        lambda c, k: None,
        redis_client,
        connect_db=False,
        request_sync=lambda c, k: "req-1",
        refresh_token=lambda c: "req-2",
    )
    client = TestClient(app).__enter__()
    assert login(client, PASSWORD).status_code == 303
    return client


def test_a_page_not_granted_is_alerted_and_shown_in_the_console_without_answers(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    redis_client: redis.Redis,
) -> None:
    refused, granted = connections
    token = world.user(0)["token"]
    world.control("POST", "tokens/scopes", {"token": token, "scopes": WITHOUT_LEADS})
    assert len(sync_leads(ctx, refused).not_granted) == 1
    assert sync_leads(ctx, granted).leads == 120
    page = LeadPage.objects.get(tenant_id=refused.tenant_id)
    assert page.access == LeadAccessState.NOT_GRANTED

    # the notifier: one problem, for the refused page only, with why and what to do
    result = check_alerts(ctx.settings, ctx.redis, ctx.keys)
    lines = [line for line in result.opened if "leads of page" in line]
    assert len(lines) == 1 and page.page_id in lines[0] and refused.tenant_id in lines[0]
    assert page.access_reason and page.access_reason in lines[0]  # Meta's message
    assert "leads_retrieval" in lines[0] and "pages_manage_ads" in lines[0]
    assert f"metasync connections add --tenant {refused.tenant_id}" in lines[0]
    shown = [a for a in open_alerts() if a.condition == "leads-access"]
    assert len(shown) == 1
    assert shown[0].link == f"/console/leads/{quote(refused.tenant_id, safe='')}"
    assert "leads_retrieval" in shown[0].reason and "metasync leads sync" in shown[0].fix

    # the console's Lead Ads pages: access, Meta's message, forms and counts; no answers
    client = _console(sync_env, redis_client)
    try:
        refused_page = client.get(shown[0].link)
        assert refused_page.status_code == 200
        not_granted_row = r'<tr class="lead-page"[^>]*data-access="not_granted">(.*?)</tr>'
        row = re.search(not_granted_row, refused_page.text, re.S)
        assert row and page.page_id in refused_page.text
        assert "leads_retrieval" in row.group(1) and "To do" in row.group(1)
        granted_page = client.get(f"/console/leads/{quote(granted.tenant_id, safe='')}").text
        assert 'data-access="granted"' in granted_page and "To do" not in granted_page
        form_count = r'class="lead-form"[^>]*data-leads="(\d+)"'
        counts = [int(n) for n in re.findall(form_count, granted_page)]
        assert len(counts) == 2 and sum(counts) == 120
        lead = Lead.objects(tenant_id=granted.tenant_id).first()
        page_token = LeadPage.objects.get(tenant_id=granted.tenant_id).page_token(ctx.cipher)
        answers = world.get(lead.lead_id, token=page_token, fields="field_data").json()
        for answer in answers["field_data"]:
            assert all(value not in granted_page for value in answer["values"] if len(value) > 3)
        assert "example.com" not in granted_page and lead.lead_id not in granted_page
        assert client.get("/console/leads/x").status_code == 200  # a tenant with no pages
    finally:
        client.__exit__(None, None, None)

    # granted again: the next lead sync reads the page and the alert clears
    scopes = sorted({*WITHOUT_LEADS, *LEAD_SCOPES})
    world.control("POST", "tokens/scopes", {"token": token, "scopes": scopes})
    assert sync_leads(ctx, refused).not_granted == []
    cleared = check_alerts(ctx.settings, ctx.redis, ctx.keys)
    assert not [a for a in open_alerts() if a.condition == "leads-access"]
    assert cleared.opened == [] or all("leads of page" not in line for line in cleared.opened)
