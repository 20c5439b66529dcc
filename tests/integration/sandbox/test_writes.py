"""Writes through the Graph API (``POST /{id}``): Meta's checks, and a world that follows them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.support.sandbox import Sandbox


def _objects(sandbox: Sandbox) -> dict[str, Any]:
    truth = sandbox.truth()
    account = str(sandbox.user(0)["ad_account_ids"][0]).removeprefix("act_")
    campaigns = [c for c in truth["campaigns"] if c["account_id"] == account]
    with_budget = {c["id"] for c in campaigns if c.get("daily_budget")}
    adsets = [a for a in truth["adsets"] if a["account_id"] == account]
    return {
        "cbo_adset": next(a for a in adsets if a["campaign_id"] in with_budget),
        "own_budget_adset": next(
            a for a in adsets if a["campaign_id"] not in with_budget and a["status"] == "ACTIVE"
        ),
        "active_ad": next(
            a for a in truth["ads"] if a["account_id"] == account and a["status"] == "ACTIVE"
        ),
        "archived_ad": next(
            a for a in truth["ads"] if a["account_id"] == account and a["status"] == "ARCHIVED"
        ),
        "deleted_ad": next(
            a for a in truth["ads"] if a["account_id"] == account and a["status"] == "DELETED"
        ),
    }


def _error(response: Any) -> tuple[int, int, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def test_a_pause_and_a_budget_change_reach_the_world_and_its_activity_log(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = fresh_sandbox()
    found = _objects(sandbox)
    ad, adset = found["active_ad"], found["own_budget_adset"]
    before = sandbox.get(ad["id"], fields="status,updated_time").json()
    sandbox.control("POST", "counters")
    paused = sandbox.post(ad["id"], status="PAUSED")
    assert paused.status_code == 200 and paused.json() == {"success": True}
    assert sandbox.graph_calls() == 1, "a write is charged like a read"
    after = sandbox.get(ad["id"], fields="status,effective_status,updated_time").json()
    assert (after["status"], after["effective_status"]) == ("PAUSED", "PAUSED")
    assert after["updated_time"] >= before["updated_time"]
    raised = int(adset["daily_budget"]) + 500
    assert sandbox.post(adset["id"], daily_budget=str(raised)).status_code == 200
    assert sandbox.get(adset["id"], fields="daily_budget").json()["daily_budget"] == str(raised)
    account = "act_" + ad["account_id"]
    log = sandbox.get(
        f"{account}/activities", fields="event_type,object_id,extra_data", since="2000-01-01"
    ).json()["data"]
    assert ("update_ad_run_status", ad["id"]) in {(e["event_type"], e["object_id"]) for e in log}
    assert ("update_ad_set_budget", adset["id"]) in {(e["event_type"], e["object_id"]) for e in log}


def test_metas_checks_refuse_what_meta_refuses_and_name_the_problem(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = fresh_sandbox()
    found = _objects(sandbox)
    adset, cbo_adset = found["own_budget_adset"], found["cbo_adset"]
    refusals = {
        "below the minimum": (sandbox.post(adset["id"], daily_budget="99"), "minimum daily budget"),
        "not whole minor units": (sandbox.post(adset["id"], daily_budget="12.5"), "whole number"),
        "budget on its campaign": (
            sandbox.post(cbo_adset["id"], daily_budget="10000"),
            "lives on its campaign",
        ),
        "an unknown status": (sandbox.post(adset["id"], status="RUNNING"), "Param status"),
        "a field writes do not take": (
            sandbox.post(found["active_ad"]["id"], daily_budget="1000"),
            "Param daily_budget",
        ),
        "an archived ad woken": (
            sandbox.post(found["archived_ad"]["id"], status="ACTIVE"),
            "can only be deleted",
        ),
        "a deleted ad edited": (
            sandbox.post(found["deleted_ad"]["id"], name="again"),
            "deleted and cannot be edited",
        ),
    }
    for what, (response, words) in refusals.items():
        status, code, message = _error(response)
        assert (status, code) == (400, 100), what
        assert words in message, (what, message)
    unchanged = sandbox.get(adset["id"], fields="daily_budget,status").json()
    assert unchanged == {
        "id": adset["id"],
        "daily_budget": adset["daily_budget"],
        "status": "ACTIVE",
    }
    assert sandbox.post(found["archived_ad"]["id"], status="DELETED").status_code == 200


def test_a_token_without_ads_management_reads_but_cannot_write(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = fresh_sandbox()
    token = sandbox.user(0)["token"]
    sandbox.control("POST", "tokens/scopes", {"token": token, "scopes": ["ads_read"]})
    ad = _objects(sandbox)["active_ad"]
    status, code, message = _error(sandbox.post(ad["id"], status="PAUSED"))
    assert (status, code) == (403, 200) and "ads_management" in message
    assert sandbox.get(ad["id"], fields="status").json()["status"] == "ACTIVE"
    app = f"{sandbox.info['app_id']}|{sandbox.info['app_secret']}"
    debug = sandbox.get("debug_token", token=app, input_token=token).json()["data"]
    assert debug["scopes"] == ["ads_read"]


def _today_impressions(sandbox: Sandbox, ad: dict[str, Any], today: str) -> int:
    rows = sandbox.get(
        f"{ad['id']}/insights",
        fields="ad_id,impressions",
        time_range=json.dumps({"since": today, "until": today}),
    ).json()["data"]
    return int(rows[0]["impressions"]) if rows else 0


def test_a_paused_ad_delivers_only_the_part_of_today_before_its_pause(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = fresh_sandbox()
    sandbox.control("POST", "insights/today")
    truth = sandbox.truth()
    zones = {a["account_id"]: a["timezone_name"] for a in truth["accounts"]}

    def local_now(ad: dict[str, Any]) -> datetime:
        return datetime.now(ZoneInfo(zones[ad["account_id"]]))

    delivering = [
        (ad, local_now(ad).date().isoformat())
        for ad in truth["ads"]
        if ad["effective_status"] == "ACTIVE"
    ]
    ad, today = next((a, d) for a, d in delivering if _today_impressions(sandbox, a, d) > 0)
    full = _today_impressions(sandbox, ad, today)

    def share(moment: datetime) -> float:
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return (moment - midnight).total_seconds() / 86_400

    earliest = share(local_now(ad))
    assert sandbox.post(ad["id"], status="PAUSED").status_code == 200
    latest = share(local_now(ad))
    after = _today_impressions(sandbox, ad, today)
    assert int(full * earliest) <= after <= int(full * latest) + 1, (full, after)
    assert after < full, "a pause stops delivery for the rest of the day"
