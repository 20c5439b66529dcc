"""The sandbox serves breakdowns, action breakdowns, windows and time grains as Meta does."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import requests

from tests.support.sandbox import Sandbox

PIXEL_ACTIONS = {"purchase", "offsite_conversion.fb_pixel_purchase", "add_to_cart"}


def read_all(sandbox: Sandbox, account: str, **params: Any) -> list[dict[str, Any]]:
    """Every page, each read with its proof (as the SDK does; ``next`` carries none)."""
    rows: list[dict[str, Any]] = []
    answer = sandbox.get(f"{account}/insights", limit=500, **params)
    while True:
        body = answer.json()
        assert answer.status_code == 200, body
        rows += body["data"]
        if not body.get("paging", {}).get("next"):
            return rows
        after = body["paging"]["cursors"]["after"]
        answer = sandbox.get(f"{account}/insights", limit=500, after=after, **params)


def window(sandbox: Sandbox, account: str) -> dict[str, str]:
    first, last = sandbox.truth()["windows"][account.removeprefix("act_")]
    return {"time_range": json.dumps({"since": first, "until": last})}


def test_breakdown_rows_sum_exactly_to_the_unbroken_rows(sandbox: Sandbox) -> None:
    account = sandbox.user()["opted_in_account_ids"][0]  # impression_device needs the opt-in
    common = {
        "level": "ad",
        "time_increment": 1,
        "fields": "ad_id,impressions,clicks,spend,reach,actions",
        **window(sandbox, account),
    }
    whole = {(r["ad_id"], r["date_start"]): r for r in read_all(sandbox, account, **common)}
    for breakdowns in (
        "age,gender",
        "country",
        "publisher_platform,platform_position,impression_device",
        "device_platform",
    ):
        rows = read_all(sandbox, account, breakdowns=breakdowns, **common)
        sums: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for row in rows:
            for name in breakdowns.split(","):
                assert row[name], (breakdowns, row)
            key = (row["ad_id"], row["date_start"])
            for metric in ("impressions", "clicks", "spend"):
                sums[key][metric] += Decimal(row[metric])
            for action in row.get("actions", []):
                sums[key][action["action_type"]] += Decimal(action["value"])
            assert int(row["reach"]) <= int(row["impressions"])
        assert set(sums) == set(whole), breakdowns
        for key, row in whole.items():
            for metric in ("impressions", "clicks", "spend"):
                assert sums[key][metric] == Decimal(row[metric]), (breakdowns, key, metric)
            for action in row.get("actions", []):
                assert sums[key][action["action_type"]] == Decimal(action["value"])


def test_hourly_rows_are_24_a_day_without_pixel_actions_and_refuse_reach(
    sandbox: Sandbox,
) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    hourly = "hourly_stats_aggregated_by_advertiser_time_zone"
    first, _ = sandbox.truth()["windows"][account.removeprefix("act_")]
    day = json.dumps({"since": first, "until": first})
    rows = read_all(
        sandbox,
        account,
        level="account",
        breakdowns=hourly,
        fields="impressions,actions",
        time_range=day,
    )
    assert len(rows) == 24
    assert rows[0][hourly] == "00:00:00 - 00:59:59"
    assert not {a["action_type"] for r in rows for a in r.get("actions", [])} & PIXEL_ACTIONS
    refused = sandbox.get(
        f"{account}/insights", breakdowns=hourly, fields="impressions,reach", time_range=day
    )
    assert refused.status_code == 400
    assert "reach cannot be requested with hourly breakdowns" in refused.json()["error"]["message"]


def test_unserved_combinations_get_metas_error(sandbox: Sandbox) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    answer = sandbox.get(
        f"{account}/insights", breakdowns="age,country", fields="impressions,actions"
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 100
    assert (
        "Current combination of data breakdown columns (action_type, age, country) is invalid"
        in error["message"]
    )
    unknown = sandbox.get(f"{account}/insights", breakdowns="nielsen_dma", fields="impressions")
    assert "breakdowns[0] must be one of the following values" in unknown.json()["error"]["message"]


def test_windows_are_per_action_and_retired_ones_return_nothing(sandbox: Sandbox) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    rows = read_all(
        sandbox,
        account,
        level="ad",
        time_increment=1,
        fields="ad_id,actions,attribution_setting",
        action_attribution_windows=json.dumps(["1d_click", "7d_click", "28d_click", "7d_view"]),
        **window(sandbox, account),
    )
    purchases = [a for r in rows for a in r.get("actions", []) if a["action_type"] == "purchase"]
    assert purchases
    for action in purchases:
        assert "7d_view" not in action
        assert int(action["1d_click"]) <= int(action["7d_click"]) <= int(action["28d_click"])
    seven_day = [
        a for r in rows if r["attribution_setting"] == "7d_click" for a in r.get("actions", [])
    ]
    assert all(a["value"] == a["7d_click"] for a in seven_day)


def test_action_device_splits_on_meta_actions_only(sandbox: Sandbox) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    rows = read_all(
        sandbox,
        account,
        level="account",
        time_increment=1,
        fields="actions",
        action_breakdowns="action_device",
        **window(sandbox, account),
    )
    entries = [a for r in rows for a in r.get("actions", [])]
    assert {a["action_device"] for a in entries if a["action_type"] == "link_click"} > {"desktop"}
    assert all("action_device" not in a for a in entries if a["action_type"] in PIXEL_ACTIONS)


def test_weeks_and_months_are_meta_grains(sandbox: Sandbox) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    since = date.today() - timedelta(days=20)
    since -= timedelta(days=since.weekday())
    span = json.dumps({"since": since.isoformat(), "until": date.today().isoformat()})
    weeks = read_all(
        sandbox, account, level="account", time_increment=7, fields="reach", time_range=span
    )
    starts = sorted({date.fromisoformat(r["date_start"]) for r in weeks})
    assert all(day.weekday() == 0 for day in starts)
    assert all(
        (date.fromisoformat(r["date_stop"]) - date.fromisoformat(r["date_start"])).days <= 6
        for r in weeks
    )
    months = read_all(
        sandbox, account, level="account", time_increment="monthly", fields="reach", time_range=span
    )
    assert all(
        r["date_start"] == since.isoformat() or r["date_start"].endswith("-01") for r in months
    )


def post(sandbox: Sandbox, path: str, **params: Any) -> requests.Response:
    token = sandbox.user()["token"]
    proof = hmac.new(sandbox.info["app_secret"].encode(), token.encode(), hashlib.sha256)
    return sandbox.http.post(
        f"{sandbox.graph_url}/{path}",
        timeout=30,
        data={"access_token": token, "appsecret_proof": proof.hexdigest(), **params},
    )


def test_old_breakdown_reach_only_through_ten_jobs_a_day(sandbox: Sandbox) -> None:
    account = sandbox.user()["ad_account_ids"][1]
    old = json.dumps(
        {
            "since": (date.today() - timedelta(days=420)).isoformat(),
            "until": date.today().isoformat(),
        }
    )
    params = {"breakdowns": "country", "fields": "impressions,reach,frequency", "time_range": old}
    synchronous = read_all(sandbox, account, **params)
    assert synchronous and all("reach" not in r and "frequency" not in r for r in synchronous)
    unbroken = read_all(sandbox, account, fields="impressions,reach", time_range=old)
    assert all("reach" in r for r in unbroken)
    sandbox.control("POST", "faults", {"job_seconds": 0.01})
    headers, results = [], []
    for _ in range(11):
        started = post(sandbox, f"{account}/insights", **params)
        assert started.status_code == 200, started.text
        headers.append(json.loads(started.headers["x-fb-ads-insights-reach-throttle"]))
        results.append(started.json()["report_run_id"])
    assert [h["acc_id_util_pct"] for h in headers] == [10 * n for n in range(1, 11)] + [100]
    time.sleep(0.1)
    for job_id in (results[0], results[-1]):
        assert sandbox.get(job_id).json()["async_status"] == "Job Completed"
    first_rows = sandbox.get(f"{results[0]}/insights").json()["data"]
    last_rows = sandbox.get(f"{results[-1]}/insights").json()["data"]
    assert all("reach" in r for r in first_rows)
    assert all("reach" not in r for r in last_rows)
