"""Usage headers and throttling from real counts, the control API, webhooks, concurrency and
determinism."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from metasync.graph import RateLimitError, insights_params, iter_pages, parse_usage_headers
from metasync.sandbox.ground_truth import ground_truth
from metasync.sandbox.world import WorldSize, generate_world
from tests.support.sandbox import Sandbox


def test_usage_headers_grow_with_real_calls(sandbox: Sandbox) -> None:
    sandbox.control("POST", "budgets", {"account": 20, "business_use_case": 40, "user": 50})
    account = sandbox.user()["ad_account_ids"][0]
    first = parse_usage_headers(sandbox.get(account, fields="name").headers)
    for _ in range(3):
        sandbox.get(account, fields="name")
    later = parse_usage_headers(sandbox.get(account, fields="name").headers)
    assert first.account is not None and later.account is not None
    assert first.account.acc_id_util_pct == 5.0  # 1 of 20
    assert later.account.acc_id_util_pct == 25.0  # 5 of 20
    assert later.app is not None and later.app.call_count == 0.0  # not the user's budget
    management = next(e for e in later.business if e.type == "ads_management")
    assert management.business_id == account.removeprefix("act_")
    assert management.call_count == 12.5  # 5 of 40
    insights = sandbox.get(f"{account}/insights", level="account", date_preset="yesterday")
    assert "X-FB-Ads-Insights-Throttle" in insights.headers


def test_budgets_follow_metas_formula_for_the_tier(sandbox: Sandbox) -> None:
    """Limited tier: ads_management 300 + 40 x active ads, ads_insights 600 + 400 x active
    ads, per ad account; the user's platform budget (200) counts only the /me node."""
    truth = sandbox.truth()
    account = sandbox.user()["ad_account_ids"][0]
    number = account.removeprefix("act_")
    active = sum(
        1
        for ad in truth["ads"]
        if ad["account_id"] == number and ad["effective_status"] == "ACTIVE"
    )
    assert active > 0
    usage = parse_usage_headers(sandbox.get(account, fields="name").headers)
    management = next(e for e in usage.business if e.type == "ads_management")
    assert management.call_count == round(100 / (300 + 40 * active), 2)
    assert management.ads_api_access_tier == "development_access"
    sandbox.get(f"{account}/insights", level="account", date_preset="yesterday")
    usage = parse_usage_headers(sandbox.get(f"{account}/insights", level="account").headers)
    insights = next(e for e in usage.business if e.type == "ads_insights")
    assert insights.call_count == round(200 / (600 + 400 * active), 2)  # 2 insights calls
    for _ in range(4):
        me = parse_usage_headers(sandbox.get("me", fields="id").headers)
    assert me.app is not None and me.app.call_count == 2.0  # 4 of the user's 200
    sandbox.control("PUT", "budgets", {"tier": "full"})
    usage = parse_usage_headers(sandbox.get(account, fields="name").headers)
    management = next(e for e in usage.business if e.type == "ads_management")
    assert management.call_count == round(100 / (100_000 + 40 * active), 2)


def test_a_spent_use_case_answers_80004_and_the_other_carries_on(sandbox: Sandbox) -> None:
    """The whole management budget of an account with no active ads (300 calls), then
    (#80004) with the regain time; its insights and other accounts are not affected."""
    truth = sandbox.truth()
    idle = {ad["account_id"] for ad in truth["ads"] if ad["effective_status"] == "ACTIVE"}
    mine = [a.removeprefix("act_") for a in sandbox.user()["ad_account_ids"]]
    quiet = next((a for a in mine if a not in idle), None)
    account = f"act_{quiet or mine[0]}"
    budget = 300 + 40 * sum(
        1
        for ad in truth["ads"]
        if ad["account_id"] == account[4:] and ad["effective_status"] == "ACTIVE"
    )
    client = sandbox.client()
    for _ in range(budget):
        client.get(account, {"fields": "id"})
    with pytest.raises(RateLimitError) as caught:
        client.get(account, {"fields": "id"})
    error = caught.value
    assert (error.code, error.scope, error.use_case) == (80004, "business", "ads_management")
    assert 3000 < error.retry_after <= 3600  # the regain time: the window's oldest call
    params = insights_params(level="account", date_preset="yesterday")
    assert client.get(f"{account}/insights", params).status == 200
    other = next(a for a in sandbox.user()["ad_account_ids"] if a != account)
    assert client.get(other, {"fields": "id"}).status == 200


def test_account_budget_gives_17_2446079_with_reset_time(sandbox: Sandbox) -> None:
    sandbox.control("POST", "budgets", {"account": 3, "window_seconds": 120})
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    for _ in range(3):
        client.get(account, {"fields": "name"})
    with pytest.raises(RateLimitError) as caught:
        client.get(account, {"fields": "name"})
    error = caught.value
    assert (error.code, error.subcode, error.scope) == (17, 2446079, "account")
    assert 100 <= error.retry_after <= 120  # the account's reset_time_duration
    other = sandbox.user()["ad_account_ids"][1]
    assert client.get(other, {"fields": "name"}).status == 200  # other accounts carry on


@pytest.mark.parametrize(("path", "code"), [("", 80004), ("/insights", 80000)])
def test_business_use_case_budgets(sandbox: Sandbox, path: str, code: int) -> None:
    sandbox.control("POST", "budgets", {"business_use_case": 2, "window_seconds": 90})
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    params = insights_params(level="account", date_preset="yesterday") if path else {"fields": "id"}
    for _ in range(2):
        client.get(f"{account}{path}", params)
    with pytest.raises(RateLimitError) as caught:
        client.get(f"{account}{path}", params)
    assert caught.value.code == code and caught.value.scope == "business"
    assert caught.value.retry_after == 120  # 2 minutes, from estimated_time_to_regain_access


def test_app_budget_gives_code_4(sandbox: Sandbox) -> None:
    sandbox.control("POST", "budgets", {"app": 2})
    client = sandbox.client()
    client.get("me")
    client.get("me")
    with pytest.raises(RateLimitError) as caught:
        sandbox.client(1).get("me")
    assert caught.value.code == 4
    assert sandbox.control("GET", "counters")["by_error_code"] == {"4": 1}


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/meta", handler.received
    server.shutdown()
    server.server_close()


def test_mutations_move_updated_time_and_send_signed_webhooks(
    fresh_sandbox,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],  # type: ignore[no-untyped-def]
) -> None:
    sandbox = fresh_sandbox()
    url, received = receiver
    truth = sandbox.truth()
    campaign = next(
        c
        for c in truth["campaigns"]
        if c["effective_status"] == "ACTIVE"
        and any(
            a["campaign_id"] == c["id"] and a["effective_status"] == "ACTIVE"
            for a in truth["adsets"]
        )
    )
    child = next(
        a
        for a in truth["adsets"]
        if a["campaign_id"] == campaign["id"] and a["effective_status"] == "ACTIVE"
    )
    before = datetime.now(UTC).replace(microsecond=0)
    paused = sandbox.control("POST", "mutate", {"id": campaign["id"], "action": "pause"})["object"]
    assert paused["effective_status"] == "PAUSED"
    assert datetime.strptime(paused["updated_time"], "%Y-%m-%dT%H:%M:%S%z") >= before
    after = {a["id"]: a for a in sandbox.truth()["adsets"]}[child["id"]]
    assert after["effective_status"] == "CAMPAIGN_PAUSED"
    assert after["updated_time"] == child["updated_time"]  # Meta's quirk: no bump on inheritance

    ad = next(a for a in truth["ads"] if a["effective_status"] not in ("DELETED",))
    result = sandbox.control(
        "POST",
        "mutate",
        {"id": ad["id"], "action": "issues", "notify": True, "callback_url": url, "times": 2},
    )
    assert result["webhook"]["statuses"] == [200, 200]
    assert len(received) == 2
    headers, body = received[0]
    expected = (
        "sha256=" + hmac.new(sandbox.info["app_secret"].encode(), body, hashlib.sha256).hexdigest()
    )
    assert headers["X-Hub-Signature-256"] == expected
    payload = json.loads(body)
    change = payload["entry"][0]["changes"][0]
    assert payload["object"] == "ad_account" and payload["entry"][0]["id"] == ad["account_id"]
    assert change["field"] == "with_issues_ad_objects"
    assert change["value"]["id"] == ad["id"] and change["value"]["level"] == "AD"

    deleted = sandbox.control("POST", "mutate", {"id": campaign["id"], "action": "delete"})
    assert deleted["object"]["effective_status"] == "DELETED"
    world = sandbox.truth()
    assert all(
        a["effective_status"] == "DELETED"
        for a in world["ads"]
        if a["campaign_id"] == campaign["id"]
    )
    owner = next(
        u for u in range(2) if f"act_{campaign['account_id']}" in sandbox.user(u)["ad_account_ids"]
    )
    visible = [
        i["id"]
        for p in iter_pages(sandbox.client(owner), f"act_{campaign['account_id']}/campaigns")
        for i in p.items
    ]
    assert campaign["id"] not in visible


def test_add_todays_insights(fresh_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = fresh_sandbox()
    account = sandbox.user()["ad_account_ids"][0].removeprefix("act_")
    before = sandbox.truth()["windows"][account][1]
    assert sandbox.control("POST", "insights/today", {"account_id": account}) == {
        "accounts": [account]
    }
    after = sandbox.truth()["windows"][account][1]
    assert after > before
    assert any(
        r["date_start"] == after
        for r in sandbox.truth()["insights"]["account"]
        if r["account_id"] == account
    )


def test_bad_mutations_are_refused(sandbox: Sandbox) -> None:
    answer = sandbox.http.post(
        f"{sandbox.url}/_sandbox/mutate", json={"id": "1", "action": "pause"}, timeout=5
    )
    assert answer.status_code == 400 and "no object 1" in answer.json()["error"]


def _lister(
    graph_url: str, secret: str, token: str, accounts: list[str], out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    from metasync.graph import GraphClient, GraphConfig

    client = GraphClient(token, GraphConfig(graph_url, secret, max_retries=0))
    seen: dict[str, list[str]] = {}
    for _ in range(3):
        for account in accounts:
            ids = [
                i["id"]
                for p in iter_pages(client, f"{account}/ads", {"fields": "id"}, limit=2)
                for i in p.items
            ]
            seen.setdefault(account, ids)
            assert seen[account] == ids
    out.put((seen, client.stats.requests))


def test_concurrent_processes_get_consistent_answers(sandbox: Sandbox) -> None:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    jobs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for n in range(4):
            user = sandbox.user(n % 2)
            process = context.Process(
                target=_lister,
                args=(
                    sandbox.graph_url,
                    sandbox.info["app_secret"],
                    user["token"],
                    user["ad_account_ids"],
                    out,
                ),
            )
            process.start()
            jobs.append(process)
    results = [out.get(timeout=120) for _ in jobs]
    for process in jobs:
        process.join(10)
        assert process.exitcode == 0
    truth = sandbox.truth()
    for seen, _ in results:
        for account, ids in seen.items():
            expected = sorted(
                a["id"]
                for a in truth["ads"]
                if f"act_{a['account_id']}" == account
                and a["effective_status"] not in ("ARCHIVED", "DELETED")
            )
            assert sorted(ids) == expected
    assert sandbox.control("GET", "counters")["graph_calls"] == sum(r[1] for r in results)


def test_same_seed_same_world_and_ground_truth() -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    size = WorldSize(2, 2, 3, 2, 2, 10)
    first, second = generate_world(11, size, now=now), generate_world(11, size, now=now)
    other = generate_world(12, size, now=now)
    truth: dict[str, Any] = ground_truth(first)
    assert truth == ground_truth(second)
    assert [u.token for u in first.users.values()] == [u.token for u in second.users.values()]
    assert truth["campaigns"] != ground_truth(other)["campaigns"]
    assert sum(len(rows) for rows in truth["insights"].values()) > 0
    statuses = {o["effective_status"] for o in truth["ads"]}
    assert {"ACTIVE", "ARCHIVED", "DELETED"} <= statuses
    assert any(o["issues_info"] for o in truth["ads"])
    assert all("targeting" in a for a in truth["adsets"])
    assert {a["currency"] for a in truth["accounts"]} >= {"USD", "EUR"}


def test_same_seed_same_info_across_servers(fresh_sandbox) -> None:  # type: ignore[no-untyped-def]
    one, two = fresh_sandbox(seed=9), fresh_sandbox(seed=9)
    urls = ("base_url", "graph_url", "ads_api_url")  # each server's own address
    strip = lambda info: {k: v for k, v in info.items() if k not in urls}  # noqa: E731
    assert strip(one.info) == strip(two.info)
    assert one.truth()["ads"] == two.truth()["ads"]
