"""The MCP server at /mcp of the web app, with the SDK's own client over Streamable HTTP
against a real HTTP server: tools and their annotations, every read tool against the sandbox's
ground truth with zero Graph calls, tenant isolation, scopes, paging and hostile arguments."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx2

from metasync.api.keys import create_key, revoke
from metasync.mcp.bounds import MAX_CHARS, MAX_ROWS
from metasync.models import AdActivity, DailyInsight
from tests.integration.mcp.conftest import Tenants
from tests.support.mcp_client import Answer, call, calls, list_tools
from tests.support.sandbox import Sandbox

READS = {
    "accounts",
    "find_objects",
    "performance",
    "reports",
    "report_rows",
    "change_history",
    "recommendations",
    "explain_change",
}
PROPOSALS = {"propose_pause", "propose_resume", "propose_budget"}


def _accounts(world: Sandbox, user: int = 0) -> list[str]:
    return [a.removeprefix("act_") for a in world.user(user)["ad_account_ids"]]


def _days(world: Sandbox) -> tuple[str, str]:
    dates = sorted({r["date_start"] for r in world.truth()["insights"]["ad"]})
    return dates[0], dates[-1]


def _every_row(url: str, key: str, tool: str, **arguments: Any) -> list[dict[str, Any]]:
    """Every row of a paged answer, following next_cursor; each page within the bounds."""
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        answer = call(url, key, tool, **arguments, **({"cursor": cursor} if cursor else {}))
        assert not answer.error, answer
        assert len(answer.data["rows"]) <= arguments.get("limit", MAX_ROWS)
        assert len(json.dumps(answer.data["rows"])) <= MAX_CHARS
        rows.extend(answer.data["rows"])
        cursor = answer.data["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("the cursor never ended")


def test_tools_are_listed_with_schemas_and_annotations_and_none_approves(
    web_url: str, keys_only: Tenants
) -> None:
    tools = {t.name: t for t in list_tools(web_url, keys_only.reader)}
    assert set(tools) == READS | PROPOSALS
    for name in READS:
        hints = tools[name].annotations
        assert hints is not None and hints.read_only_hint is True and hints.idempotent_hint
    for name in PROPOSALS:
        hints = tools[name].annotations
        assert hints is not None and hints.read_only_hint is False
        assert hints.destructive_hint is False and hints.idempotent_hint is True
    limit = tools["performance"].input_schema["properties"]["limit"]
    assert limit["maximum"] == MAX_ROWS
    assert {"level", "since", "until"} <= set(tools["performance"].input_schema["required"])
    assert not any(word in name for name in tools for word in ("approve", "apply", "undo"))


def test_without_a_valid_key_http_answers_401_and_never_5xx(
    web_url: str, keys_only: Tenants
) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    for bearer in (None, "msk_nope_nope", keys_only.reader + "x"):
        given = {**headers, **({"Authorization": f"Bearer {bearer}"} if bearer else {})}
        answer = httpx2.post(f"{web_url}/mcp", json=hello, headers=given, timeout=10)
        assert answer.status_code == 401, answer.text
    record, key = create_key(keys_only.first.tenant_id, "soon revoked")
    assert not call(web_url, key, "accounts").error
    revoke(keys_only.first.tenant_id, record.key_id)
    answer = httpx2.post(
        f"{web_url}/mcp",
        json=hello,
        headers={**headers, "Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert answer.status_code == 401
    huge = httpx2.post(
        f"{web_url}/mcp",
        content=b"x" * 400_000,
        headers={
            **headers,
            "Authorization": f"Bearer {keys_only.reader}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert 400 <= huge.status_code < 500


def test_performance_gives_each_ads_spend_per_day_exactly_without_a_graph_call(
    web_url: str, tenants: Tenants, world: Sandbox
) -> None:
    since, until = _days(world)
    accounts = set(_accounts(world))
    expected = {
        (r["account_id"], r["ad_id"], r["date_start"]): Decimal(r["spend"])
        for r in world.truth()["insights"]["ad"]
        if r["account_id"] in accounts
    }
    world.control("POST", "counters")
    rows = _every_row(
        web_url, tenants.reader, "performance", level="ad", since=since, until=until, limit=37
    )
    got = {(r["account_id"], r["entity_id"], r["date"]): Decimal(r["spend"]) for r in rows}
    assert len(rows) == len(got), "a row twice across pages"
    assert got == expected
    assert all(r["currency"] in ("USD", "EUR") and r["level"] == "ad" for r in rows)
    assert world.graph_calls() == 0, "answered from MongoDB alone"


def test_every_read_tool_answers_from_the_mirror_without_a_graph_call(
    web_url: str, tenants: Tenants, world: Sandbox
) -> None:
    truth = world.truth()
    accounts = set(_accounts(world))
    ads = [a for a in truth["ads"] if a["account_id"] in accounts]
    world.control("POST", "counters")
    listed = call(web_url, tenants.reader, "accounts")
    assert {a["account_id"] for a in listed.data["rows"]} == accounts
    newest = {
        r["account_id"]: r["date_start"]
        for r in sorted(truth["insights"]["account"], key=lambda r: r["date_start"])
    }
    for row in listed.data["rows"]:
        assert row["health"][0]["newest_day"] == newest[row["account_id"]]
    one = ads[0]
    by_id = call(web_url, tenants.reader, "find_objects", kind="ad", ids=[one["id"]])
    assert [(r["id"], r["name"], r["status"]) for r in by_id.data["rows"]] == [
        (one["id"], one["name"], one["status"])
    ]
    by_name = call(
        web_url, tenants.reader, "find_objects", kind="ad", name_contains=one["name"][2:].upper()
    )
    assert one["id"] in {r["id"] for r in by_name.data["rows"]}
    adsets = call(web_url, tenants.reader, "find_objects", kind="adset", limit=200)
    budgets = {s["id"]: s["daily_budget"] for s in truth["adsets"] if s.get("daily_budget")}
    for row in adsets.data["rows"]:
        if row["id"] in budgets:
            assert Decimal(row["daily_budget"]) * 100 == Decimal(budgets[row["id"]])
    today = date.today()
    history = call(
        web_url,
        tenants.reader,
        "change_history",
        source="meta",
        since=(today - timedelta(days=390)).isoformat(),
        until=(today + timedelta(days=1)).isoformat(),
        limit=200,
    )
    stored = AdActivity.objects(tenant_id=tenants.first.tenant_id).count()
    assert len(history.data["rows"]) == min(stored, 200) and stored > 0
    account = sorted(accounts)[0]
    middle = DailyInsight.objects(level="ad", account_id=account).distinct("date")
    days = sorted(middle)
    explained = call(
        web_url,
        tenants.reader,
        "explain_change",
        account_id=account,
        metric="spend",
        level="campaign",
        before_since=days[0],
        before_until=days[3],
        after_since=days[4],
        after_until=days[-1],
    )
    assert not explained.error, explained
    data = explained.data
    parts = sum(Decimal(p["contribution"]) for p in data["by_entity"])
    assert parts + Decimal(data["others"]["contribution"]) == Decimal(data["difference"])
    truth_after = sum(
        Decimal(r["spend"])
        for r in truth["insights"]["campaign"]
        if r["account_id"] == account and days[4] <= r["date_start"] <= days[-1]
    )
    assert Decimal(data["after"]["spend"]) == truth_after
    factors = sum(Decimal(f["contribution"]) for f in data["by_factor"])
    assert abs(factors - Decimal(data["difference"])) <= Decimal("0.001")
    for tool, arguments in (("reports", {}), ("recommendations", {})):
        assert not call(web_url, tenants.reader, tool, **arguments).error
    assert world.graph_calls() == 0, "answered from MongoDB alone"


def test_another_tenants_ids_are_not_found_and_scopes_hold(
    web_url: str, tenants: Tenants, world: Sandbox
) -> None:
    theirs = _accounts(world, 1)
    their_ad = next(a for a in world.truth()["ads"] if a["account_id"] == theirs[0])
    mine = call(web_url, tenants.reader, "find_objects", kind="ad", ids=[their_ad["id"]])
    assert mine.data["rows"] == []
    own = call(web_url, tenants.other, "find_objects", kind="ad", ids=[their_ad["id"]])
    assert [r["id"] for r in own.data["rows"]] == [their_ad["id"]]
    explained = call(
        web_url,
        tenants.reader,
        "explain_change",
        account_id=theirs[0],
        metric="spend",
        level="ad",
        before_since="2026-01-01",
        before_until="2026-01-02",
        after_since="2026-01-03",
        after_until="2026-01-04",
    )
    assert explained.error and "no ad account" in explained.text
    rows = call(
        web_url,
        tenants.reader,
        "performance",
        level="ad",
        since="2020-01-01",
        until="2020-12-31",
        account_id=theirs[0],
    )
    assert rows.data["rows"] == []
    refused = call(
        web_url,
        tenants.reader,
        "propose_pause",
        level="ad",
        entity_id=their_ad["id"],
        reason="test",
    )
    assert refused.error and "propose scope" in refused.text
    not_found = call(
        web_url,
        tenants.proposer,
        "propose_pause",
        level="ad",
        entity_id=their_ad["id"],
        reason="test",
    )
    assert not_found.error and "no live ad" in not_found.text


def _hostile(url: str, key: str) -> list[Answer]:
    return calls(
        url,
        key,
        [
            (
                "performance",
                {"level": "ad", "since": "2026-01-01", "until": "2026-01-02", "limit": 10**9},
            ),
            ("performance", {"level": "ad", "since": "2026-13-45", "until": "2026-01-02"}),
            ("performance", {"level": "ad", "since": "2026-02-01", "until": "2026-01-02"}),
            ("performance", {"level": "ad", "since": "2000-01-01", "until": "2026-01-02"}),
            ("performance", {"level": "'; drop", "since": "2026-01-01", "until": "2026-01-02"}),
            (
                "performance",
                {
                    "level": "ad",
                    "since": "2026-01-01",
                    "until": "2026-01-02",
                    "cursor": "not-a-cursor",
                },
            ),
            ("find_objects", {"kind": "ad", "ids": [{"$gt": ""}]}),
            ("find_objects", {"kind": "ad", "account_id": {"$ne": None}}),
            ("find_objects", {"kind": "ad", "name_contains": "x" * 5000}),
            ("report_rows", {"report": "../../etc", "since": "2026-01-01", "until": "2026-01-02"}),
            (
                "change_history",
                {"source": "meta", "since": "2026-01-01", "until": "2026-01-02", "cursor": "W10="},
            ),
            ("recommendations", {"state": "approved; ignore"}),
            (
                "explain_change",
                {
                    "account_id": "999",
                    "metric": "spend",
                    "level": "ad",
                    "before_since": "2026-01-01",
                    "before_until": "2026-01-02",
                    "after_since": "2026-01-03",
                    "after_until": "2026-01-04",
                },
            ),
            ("approve_recommendation", {"id": "x"}),
        ],
    )


def test_hostile_arguments_are_errors_named_never_a_crash(web_url: str, tenants: Tenants) -> None:
    answers = _hostile(web_url, tenants.reader)
    assert all(a.error for a in answers), [a for a in answers if not a.error]
    crashed = [a for a in answers if a.text.rstrip().split(":")[0] == a.text.rstrip()]
    assert not [a for a in crashed if "Unknown tool" not in a.text], "a crash hides its cause"
    assert "limit" in answers[0].text and "since" in answers[2].text
    assert "cursor" in answers[5].text and "no ad account" in answers[12].text
    unset = call(
        web_url,
        tenants.reader,
        "report_rows",
        report="country",
        since="2026-01-01",
        until="2026-01-02",
        currency="reporting",
    )
    assert unset.error and "report" in unset.text
    no_currency = call(
        web_url,
        tenants.reader,
        "performance",
        level="account",
        since="2020-01-01",
        until="2020-01-02",
        currency="reporting",
    )
    assert no_currency.error and "currency: this tenant has no reporting currency" in (
        no_currency.text
    )
    regex = call(web_url, tenants.reader, "find_objects", kind="ad", name_contains=".*")
    assert regex.data["rows"] == [], "a name is matched as plain text, never as a pattern"
    assert not call(web_url, tenants.reader, "accounts").error, "the server still answers"
