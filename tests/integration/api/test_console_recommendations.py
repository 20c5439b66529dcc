"""The console's recommendations page against the sandbox as a real HTTP server and a real
MongoDB-wire server: a person approves, applies and undoes there, the write reaches Meta and
the audit names them; a rejection writes nothing; a refusal from Meta is told and stays
retryable; a POST without this session's CSRF token, or another tenant's id, changes nothing;
a proposal made through the MCP server's proposal function is shown as an assistant's, with no
statistical evidence, and is approved and applied from the page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from metasync.api.keys import Caller, create_key
from metasync.config import load_settings
from metasync.console.auth import hash_password
from metasync.mcp.proposals import propose
from metasync.models import AdAccount, AuditEntry, MetaConnection, OperatorAction, Recommendation
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext, run_inline
from metasync.webhooks.app import create_app
from tests.support.console import ORIGIN, csrf_of, login
from tests.support.optimizer_writes import audit_matches_meta, live_adsets
from tests.support.sandbox import Sandbox
from tests.support.small_world import small_world

PASSWORD = "a long enough password"


@pytest.fixture
def world_size() -> WorldSize:
    return small_world(users=2, days=2)


@pytest.fixture
def console(
    sync_env: dict[str, str], redis_client: redis.Redis, ctx: SyncContext
) -> Iterator[TestClient]:
    """The web app in-process, pointed at the sandbox, with the console user ``ops`` logged in."""
    settings = load_settings(
        {
            **sync_env,
            "META_APP_VERIFY_TOKEN": "verify",
            "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}",
        }
    )
    app = create_app(settings, lambda c, k: None, redis_client, connect_db=False)
    with TestClient(app) as client:
        assert login(client, PASSWORD).status_code == 303
        yield client


@pytest.fixture
def synced(ctx: SyncContext, connections: list[MetaConnection]) -> list[MetaConnection]:
    """Both tenants' objects mirrored (names, statuses, budgets, currencies)."""
    for connection in connections:
        assert run_inline(ctx, str(connection.pk)).run_id
    return connections


def _page(client: TestClient, tenant: str) -> str:
    answer = client.get("/console/recommendations", params={"tenant": tenant})
    assert answer.status_code == 200, answer.text
    return answer.text


def _row(page: str, ident: str) -> str:
    found = re.search(rf'<tr class="recommendation" id="rec-{ident}".*?</tr>', page, re.S)
    assert found is not None, f"recommendation {ident} is on the page"
    return found.group(0)


def _press(client: TestClient, tenant: str, ident: str, action: str, **data: str) -> Any:
    """Press a button of the page as a browser does: its form's token, the console's Origin."""
    token = csrf_of(_page(client, tenant))
    return client.post(
        f"/console/recommendations/{ident}/{action}",
        data={"tenant": tenant, "csrf": token, **data},
        headers={"Origin": ORIGIN},
        follow_redirects=True,
    )


def _status(world: Sandbox, entity: str) -> str:
    return str(world.get(entity, fields="status").json()["status"])


def _active_ad(world: Sandbox, connection: MetaConnection) -> dict[str, Any]:
    return next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] == connection.ad_account_ids[0] and a["effective_status"] == "ACTIVE"
    )


def _proposed(connection: MetaConnection, level: str, entity: str, key: str, **fields: Any) -> str:
    saved = Recommendation(
        tenant_id=connection.tenant_id,
        key=key,
        account_id=connection.ad_account_ids[0],
        level=level,
        entity_id=entity,
        rule="cost",
        kind="cost_per_conversion",
        action="pause" if level == "ad" else "raise_budget",
        **fields,
    ).save()
    return str(saved.pk)


def test_approve_apply_and_undo_write_to_meta_audited_as_the_person_logged_in(
    console: TestClient, world: Sandbox, synced: list[MetaConnection]
) -> None:
    connection = synced[0]
    tenant = connection.tenant_id
    ad = _active_ad(world, connection)
    adset = live_adsets(world, connection.ad_account_ids[0], 1)[0]
    currency = AdAccount.objects.get(account_id=connection.ad_account_ids[0]).currency
    evidence = {
        "first": "2026-11-01",
        "last": "2026-11-20",
        "days": 20,
        "spend": 412.5,
        "conversions": 3,
        "revenue": 90.0,
        "target": 40,
        "currency": currency,
        "confidence": 0.95,
        "test": "anytime-valid",
        "cost_per_conversion": {"estimate": 137.5, "low": 61.2, "confidence": 0.95},
    }
    pause = _proposed(
        connection,
        "ad",
        ad["id"],
        "p",
        change={"status": "PAUSED"},
        evidence=evidence,
        expected="saves about 20.62 a day",
    )
    budget = int(adset["daily_budget"])
    raised = _proposed(
        connection,
        "adset",
        adset["id"],
        "r",
        change={"daily_budget": budget + 100},
        evidence={"daily_budget": budget, "currency": currency},
    )

    row = _row(_page(console, tenant), pause)
    assert html.escape(ad["name"]) in row and ad["id"] in row, "the name beside the id"
    assert f"412.50 {currency}" in row and f"61.20 {currency}" in row, "money in major units"
    assert "at most 5%" in row, "the guarantee in plain words"
    assert "the optimizer (rule cost)" in row and 'data-state="proposed"' in row
    assert f'id="approve-{pause}"' in row and f'id="apply-{pause}"' not in row
    money = f"{budget / 100:,.2f} {currency} → {(budget + 100) / 100:,.2f} {currency}"
    assert money in _row(_page(console, tenant), raised)

    approved = _press(console, tenant, pause, "approve")
    assert approved.status_code == 200 and "approved by console:ops" in approved.text
    assert Recommendation.objects.get(pk=pause).decided_by == "console:ops"
    assert _status(world, ad["id"]) == "ACTIVE", "approving writes nothing"
    assert f'id="apply-{pause}"' in _row(approved.text, pause)

    applied = _press(console, tenant, pause, "apply")
    assert "applied: written to Meta, read back and audited as console:ops" in applied.text
    assert _status(world, ad["id"]) == "PAUSED"
    [entry] = AuditEntry.objects(recommendation_id=pause, action="apply")
    assert (entry.by, entry.old_value, entry.new_value, entry.read_back) == (
        "console:ops",
        "ACTIVE",
        "PAUSED",
        "PAUSED",
    )
    row = _row(applied.text, pause)
    assert 'data-state="applied"' in row and "by console:ops" in row and f'id="undo-{pause}"' in row

    undone = _press(console, tenant, pause, "undo")
    assert "undone: the values before were written back" in undone.text
    assert _status(world, ad["id"]) == "ACTIVE"
    assert AuditEntry.objects.get(recommendation_id=pause, action="undo").by == "console:ops"
    assert 'data-state="undone"' in _row(undone.text, pause)
    assert audit_matches_meta(world, pause) == []
    done = [a.action for a in OperatorAction.objects(target=pause, by="ops").order_by("at")]
    assert done == ["recommendation_approve", "recommendation_apply", "recommendation_undo"]


def test_a_rejection_writes_nothing_and_a_refusal_from_meta_stays_retryable(
    console: TestClient, world: Sandbox, synced: list[MetaConnection]
) -> None:
    connection = synced[0]
    tenant = connection.tenant_id
    ads = [
        a
        for a in world.truth()["ads"]
        if a["account_id"] == connection.ad_account_ids[0] and a["effective_status"] == "ACTIVE"
    ]
    rejected = _proposed(connection, "ad", ads[0]["id"], "a", change={"status": "PAUSED"})
    answer = _press(console, tenant, rejected, "reject")
    assert "rejected by console:ops" in answer.text
    row = _row(answer.text, rejected)
    assert 'data-state="rejected"' in row and "<button" not in row
    assert Recommendation.objects.get(pk=rejected).state == "rejected"
    assert _press(console, tenant, rejected, "apply").status_code == 200
    assert Recommendation.objects.get(pk=rejected).state == "rejected", "a rejected one stays"
    assert _status(world, ads[0]["id"]) == "ACTIVE"

    # the person's grant changed at Meta since the connection last read it
    token = world.info["users"][0]["token"]
    world.control("POST", "tokens/scopes", {"token": token, "scopes": ["ads_read"]})
    refused = _proposed(connection, "ad", ads[1]["id"], "b", change={"status": "PAUSED"})
    _press(console, tenant, refused, "approve")
    answer = _press(console, tenant, refused, "apply")
    assert "Meta refused for a missing permission: (#200) Requires ads_management" in answer.text
    row = _row(answer.text, refused)
    assert 'data-state="failed"' in row and "Requires ads_management" in row
    assert f'id="apply-{refused}"' in row and "Apply again" in row
    assert _status(world, ads[1]["id"]) == "ACTIVE"
    world.control(
        "POST", "tokens/scopes", {"token": token, "scopes": ["ads_read", "ads_management"]}
    )
    again = _press(console, tenant, refused, "apply")
    assert "applied: written to Meta" in again.text and _status(world, ads[1]["id"]) == "PAUSED"


def test_a_post_without_this_sessions_token_or_of_another_tenant_changes_nothing(
    console: TestClient, world: Sandbox, synced: list[MetaConnection]
) -> None:
    first, second = synced
    ad = _active_ad(world, first)
    mine = _proposed(first, "ad", ad["id"], "a", change={"status": "PAUSED"})
    their_ad = next(a for a in world.truth()["ads"] if a["account_id"] in second.ad_account_ids)
    theirs = _proposed(second, "ad", their_ad["id"], "b", change={"status": "PAUSED"})
    token = csrf_of(_page(console, first.tenant_id))
    url = f"/console/recommendations/{mine}/approve"
    for data in ({"tenant": first.tenant_id}, {"tenant": first.tenant_id, "csrf": "x" * 32}):
        answer = console.post(url, data=data, headers={"Origin": ORIGIN})
        assert answer.status_code == 403 and "CSRF" in answer.text
    answer = console.post(
        url,
        data={"tenant": first.tenant_id, "csrf": token},
        headers={"Origin": "http://elsewhere.example"},
    )
    assert answer.status_code == 403
    assert Recommendation.objects.get(pk=mine).state == "proposed"
    # another tenant's recommendation, named with this tenant: not found, untouched
    for action in ("approve", "reject", "apply", "undo"):
        answer = console.post(
            f"/console/recommendations/{theirs}/{action}",
            data={"tenant": first.tenant_id, "csrf": token},
            headers={"Origin": ORIGIN},
        )
        assert answer.status_code == 404, action
    assert Recommendation.objects.get(pk=theirs).state == "proposed"
    assert theirs not in _page(console, first.tenant_id)
    assert console.get("/console/recommendations", params={"tenant": "nobody"}).status_code == 404
    listing = console.get("/console/recommendations").text
    assert first.tenant_id in listing and second.tenant_id in listing
    console.cookies.clear()
    assert (
        console.post(
            url, data={"tenant": first.tenant_id, "csrf": token}, headers={"Origin": ORIGIN}
        ).status_code
        == 401
    )
    assert console.get("/console/recommendations").status_code == 401
    assert Recommendation.objects.get(pk=mine).state == "proposed"
    assert OperatorAction.objects.count() == 0


def test_an_assistants_proposal_through_mcp_is_shown_approved_and_applied_from_the_page(
    console: TestClient, world: Sandbox, synced: list[MetaConnection]
) -> None:
    connection = synced[0]
    tenant = connection.tenant_id
    ad = _active_ad(world, connection)
    key, _ = create_key(tenant, "desk assistant", scopes=["propose"])
    key_id = key.key_id
    who = Caller(tenant, key_id, frozenset({"read", "propose"}))
    preview = propose(who, "ad", ad["id"], "pause", {"status": "PAUSED"}, "cost doubled", "k1")
    ident = preview["recommendation_id"]
    assert _status(world, ad["id"]) == "ACTIVE", "a proposal writes nothing"

    row = _row(_page(console, tenant), ident)
    assert "an assistant through the MCP server, key desk assistant" in row
    assert f"api-key:{key_id}" in row and html.escape(ad["name"]) in row
    assert "no statistical evidence" in row and "cost doubled" in row
    assert 'data-state="proposed"' in row

    _press(console, tenant, ident, "approve")
    applied = _press(console, tenant, ident, "apply")
    assert "audited as console:ops" in applied.text
    assert _status(world, ad["id"]) == "PAUSED"
    stored = Recommendation.objects.get(pk=ident)
    assert (stored.state, stored.source, stored.decided_by) == (
        "applied",
        "assistant",
        "console:ops",
    )
    assert AuditEntry.objects.get(recommendation_id=ident, action="apply").by == "console:ops"
    _press(console, tenant, ident, "undo")
    assert _status(world, ad["id"]) == "ACTIVE"
