"""The sandbox behaves as Meta documents, not as metasync assumes.

Each test names the Meta page the behaviour comes from. Where Meta's documentation is silent the
sandbox is the stricter of the plausible behaviours.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from metasync.graph import (
    GraphConfig,
    InvalidRequestError,
    JobState,
    TokenError,
    debug_token,
    exchange_token,
    insights_params,
    iter_pages,
    read_insights,
    report_status,
    start_report,
)
from metasync.graph.statuses import all_statuses_rule
from tests.support.sandbox import Sandbox

HIDDEN = ("ARCHIVED", "DELETED")


def _rows(sandbox: Sandbox, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    client = sandbox.client()
    return [
        row for page in read_insights(client, path, params, account_id="x") for row in page.items
    ]


def _account_with_hidden_ads(sandbox: Sandbox) -> tuple[str, dict[str, Any]]:
    truth = sandbox.truth()
    for account in sandbox.user()["ad_account_ids"]:
        number = account.removeprefix("act_")
        hidden = [
            ad["id"]
            for ad in truth["ads"]
            if ad["account_id"] == number and ad["effective_status"] in HIDDEN
        ]
        rows = [r for r in truth["insights"]["ad"] if r["ad_id"] in hidden]
        if rows:
            return account, truth
    raise AssertionError("the test world has no archived or deleted ad with insights")


# -- "Manage your ad object's status": insights of archived and deleted objects ---------------


def test_account_insights_leave_out_archived_and_deleted_ads_unless_filtered(
    sandbox: Sandbox,
) -> None:
    account, truth = _account_with_hidden_ads(sandbox)
    number = account.removeprefix("act_")
    first, last = truth["windows"][number]
    status = {ad["id"]: ad["effective_status"] for ad in truth["ads"]}
    expected_all = [r for r in truth["insights"]["ad"] if r["account_id"] == number]

    plain = insights_params(level="ad", since=first, until=last, all_statuses=False)
    unfiltered = _rows(sandbox, account, plain)
    assert unfiltered, "live ads have rows"
    assert not [r for r in unfiltered if status[r["ad_id"]] in HIDDEN]
    assert len(unfiltered) == len([r for r in expected_all if status[r["ad_id"]] not in HIDDEN])

    filtered = _rows(sandbox, account, insights_params(level="ad", since=first, until=last))
    assert {(r["ad_id"], r["date_start"]) for r in filtered} == {
        (r["ad_id"], r["date_start"]) for r in expected_all
    }


def test_a_live_parent_and_the_account_count_their_deleted_children(sandbox: Sandbox) -> None:
    """ "If you read stats for an ad object, we include the stats of all children objects, no
    matter if the child is active, archived, or deleted.\""""
    account, truth = _account_with_hidden_ads(sandbox)
    number = account.removeprefix("act_")
    first, last = truth["windows"][number]
    spend: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in truth["insights"]["ad"]:
        if row["account_id"] == number:
            spend[("account", row["date_start"])] += Decimal(row["spend"])
    account_rows = _rows(
        sandbox, account, insights_params(level="account", since=first, until=last)
    )
    assert account_rows
    for row in account_rows:
        assert Decimal(row["spend"]) == spend[("account", row["date_start"])]


def test_a_deleted_object_answers_its_own_insights(sandbox: Sandbox) -> None:
    _, truth = _account_with_hidden_ads(sandbox)
    deleted = next(
        ad
        for ad in truth["ads"]
        if ad["effective_status"] in HIDDEN
        and any(r["ad_id"] == ad["id"] for r in truth["insights"]["ad"])
    )
    first, last = truth["windows"][deleted["account_id"]]
    rows = _rows(
        sandbox,
        deleted["id"],
        insights_params(level="ad", since=first, until=last, all_statuses=False),
    )
    assert rows == [r for r in truth["insights"]["ad"] if r["ad_id"] == deleted["id"]]


def test_filtering_names_the_object_it_tests(sandbox: Sandbox) -> None:
    account, truth = _account_with_hidden_ads(sandbox)
    number = account.removeprefix("act_")
    first, last = truth["windows"][number]
    campaign = next(c for c in truth["campaigns"] if c["account_id"] == number)
    rule = {"field": "campaign.id", "operator": "IN", "value": [campaign["id"]]}
    rows = _rows(
        sandbox, account, insights_params(level="ad", since=first, until=last, filtering=[rule])
    )
    assert {r["campaign_id"] for r in rows} <= {campaign["id"]}
    expected = [r for r in truth["insights"]["ad"] if r["campaign_id"] == campaign["id"]]
    assert len(rows) == len(expected)


# -- field catalogue (AdCreative, AdSet, AdsInsights references; the official SDK's Field classes)


def test_documented_fields_are_accepted_and_unmodelled_ones_come_back_absent(
    sandbox: Sandbox,
) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    response = sandbox.get(
        f"{account}/adcreatives",
        fields="id,object_story_id,asset_feed_spec,dynamic_ad_voice",
    )
    assert response.status_code == 200, response.text
    creatives = response.json()["data"]
    assert all("object_story_id" in c for c in creatives)
    assert not any("dynamic_ad_voice" in c for c in creatives)  # documented, not modelled
    insights = sandbox.get(
        f"{account}/insights",
        fields="spend,ad_click_actions,attribution_setting",
        date_preset="last_7d",
    )
    assert insights.status_code == 200, insights.text
    assert all("ad_click_actions" not in r for r in insights.json()["data"])
    assert all("attribution_setting" in r for r in insights.json()["data"])


@pytest.mark.parametrize(
    ("path", "field", "node"),
    [
        ("{account}/ads", "not_a_field", "AdGroup"),
        ("{account}/insights", "spend_per_moon", "AdsInsights"),
        ("{account}", "colour", "AdAccount"),
    ],
)
def test_an_unknown_field_is_error_100(sandbox: Sandbox, path: str, field: str, node: str) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    known = "spend" if node == "AdsInsights" else "id"
    response = sandbox.get(path.format(account=account), fields=f"{known},{field}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert error["message"] == (
        f"(#100) Tried accessing nonexisting field ({field}) on node type ({node})"
    )


# -- /me/adaccounts and time_ranges (AdAccount, Ad Account Insights references) ----------------


def test_my_ad_accounts_carry_account_id_and_id_by_default(sandbox: Sandbox) -> None:
    response = sandbox.get("me/adaccounts")
    assert response.status_code == 200
    data = response.json()["data"]
    assert [row["id"] for row in data] == sandbox.user()["ad_account_ids"]
    assert all(
        row == {"account_id": row["id"].removeprefix("act_"), "id": row["id"]} for row in data
    )


def test_time_ranges_are_honoured(sandbox: Sandbox) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    number = account.removeprefix("act_")
    truth = sandbox.truth()
    days = sorted({r["date_start"] for r in truth["insights"]["ad"] if r["account_id"] == number})
    one, two = days[-1], days[-3]
    ranges = [{"since": one, "until": one}, {"since": two, "until": two}]
    response = sandbox.get(
        f"{account}/insights",
        level="ad",
        fields="ad_id,spend",
        time_increment="1",
        time_ranges=json.dumps(ranges),
        filtering=json.dumps([all_statuses_rule("ad")]),
        limit=500,
    )
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    assert {r["date_start"] for r in rows} == {one, two}
    expected = [
        r
        for r in truth["insights"]["ad"]
        if r["account_id"] == number and r["date_start"] in (one, two)
    ]
    assert len(rows) == len(expected)


def test_time_ranges_give_one_row_per_range_whatever_time_increment_says(
    sandbox: Sandbox,
) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    number = account.removeprefix("act_")
    truth = sandbox.truth()
    first, last = truth["windows"][number]
    response = sandbox.get(
        f"{account}/insights",
        level="account",
        fields="spend",
        time_increment="1",
        time_ranges=json.dumps([{"since": first, "until": last}]),
    )
    assert response.status_code == 200, response.text
    (row,) = response.json()["data"]
    assert (row["date_start"], row["date_stop"]) == (first, last)
    total = sum(
        Decimal(r["spend"]) for r in truth["insights"]["account"] if r["account_id"] == number
    )
    assert Decimal(row["spend"]) == total


# -- pagination quirks (Graph API "Pagination"; seen by connectors) ----------------------------


def test_a_repeated_cursor_loops_and_the_pager_says_the_listing_stopped_early(
    sandbox: Sandbox,
) -> None:
    sandbox.control("POST", "faults", {"repeat_cursor_rate": 1.0})
    account = sandbox.user()["ad_account_ids"][0]
    first = sandbox.get(f"{account}/ads", fields="id", limit=2).json()
    after = first["paging"]["cursors"]["after"]
    second = sandbox.get(f"{account}/ads", fields="id", limit=2, after=after).json()
    assert second["paging"]["cursors"]["after"] == after
    listing = iter_pages(sandbox.client(), f"{account}/ads", {"fields": "id"}, limit=2)
    pages = list(listing)
    assert len(pages) == 2
    assert listing.stopped_early and "repeated a paging cursor" in listing.stopped_early


def test_pages_shorter_than_limit_in_the_middle_of_a_listing(sandbox: Sandbox) -> None:
    sandbox.control("POST", "faults", {"short_page_rate": 1.0})
    account = sandbox.user()["ad_account_ids"][0]
    number = account.removeprefix("act_")
    listing = iter_pages(
        sandbox.client(),
        f"{account}/campaigns",
        {"fields": "id", "filtering": [all_statuses_rule("campaign")]},
        limit=2,
    )
    pages = list(listing)
    assert any(0 < len(p.items) < 2 and p.after for p in pages)
    expected = [c["id"] for c in sandbox.truth()["campaigns"] if c["account_id"] == number]
    assert sorted(i["id"] for p in pages for i in p.items) == sorted(expected)
    assert listing.stopped_early is None


# -- async jobs (Ad Report Run reference; v25.0 changelog) -------------------------------------


def test_a_job_that_never_becomes_visible_keeps_answering_100_33(sandbox: Sandbox) -> None:
    sandbox.control("POST", "faults", {"job_never_visible_rate": 1.0, "job_seconds": 0.1})
    account = sandbox.user()["ad_account_ids"][0]
    client = sandbox.client()
    report_id = start_report(client, account, insights_params(level="ad", date_preset="last_3d"))
    for _ in range(3):
        status = report_status(client, report_id, account_id="x")
        assert status.not_visible_yet
        time.sleep(0.2)


@pytest.mark.parametrize(("version", "has_error_fields"), [("v24.0", False), ("v25.0", True)])
def test_failed_jobs_carry_error_fields_from_v25_only(
    fresh_sandbox: Callable[..., Sandbox], version: str, has_error_fields: bool
) -> None:
    sandbox = fresh_sandbox(
        api_versions=(version,), faults={"job_fail_rate": 1.0, "job_seconds": 0}
    )
    account = sandbox.user()["ad_account_ids"][0]
    client = sandbox.client()
    report_id = start_report(client, account, insights_params(level="ad", date_preset="last_3d"))
    status = report_status(client, report_id, account_id="x")
    assert status.state is JobState.FAILED
    assert ("error_code" in status.raw) is has_error_fields
    assert (status.error_code is not None) is has_error_fields


# -- usage headers ("Rate limiting": business use case usage) ----------------------------------


def test_use_case_entries_come_in_varying_order_also_on_errors(sandbox: Sandbox) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    orders = set()
    for _ in range(12):
        response = sandbox.get(f"{account}/campaigns", fields="id")
        usage = json.loads(response.headers["X-Business-Use-Case-Usage"])
        entries = usage[account.removeprefix("act_")]
        assert len(entries) >= 2
        orders.add(tuple(entry["type"] for entry in entries))
    assert len(orders) > 1
    failed = sandbox.get(f"{account}/campaigns", fields="id,nonsense")
    assert failed.status_code == 400
    assert account.removeprefix("act_") in json.loads(failed.headers["X-Business-Use-Case-Usage"])


# -- tokens ("Access Token Debugger", "Data Access Expiration", long-lived tokens) -------------


def test_a_token_expires_by_time_and_cannot_then_be_exchanged(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = fresh_sandbox()
    user = sandbox.user()
    sandbox.control("POST", "tokens/expire", {"user_id": user["id"], "in_seconds": 1})
    assert sandbox.get("me").status_code == 200
    time.sleep(1.2)
    with pytest.raises(TokenError) as raised:
        sandbox.client().get("me")
    assert raised.value.subcode == 463
    config = GraphConfig(sandbox.graph_url, sandbox.info["app_secret"], max_retries=0)
    with pytest.raises(TokenError):
        exchange_token(config, sandbox.info["app_id"], user["token"])


def test_data_access_ends_at_its_own_time(fresh_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = fresh_sandbox()
    user = sandbox.user()
    config = GraphConfig(sandbox.graph_url, sandbox.info["app_secret"], max_retries=0)
    info = debug_token(config, sandbox.info["app_id"], user["token"])
    assert info.is_valid
    assert info.data_access_expires_at is not None and info.expires_at is not None
    assert info.data_access_expires_at > info.expires_at  # 90 days of data access, 60 of token
    sandbox.control("POST", "tokens/expire", {"user_id": user["id"], "what": "data_access"})
    with pytest.raises(TokenError) as raised:
        sandbox.client().get(user["ad_account_ids"][0], {"fields": "name"})
    assert "Data access" in raised.value.message


# -- reach ("Insights API": reach is deduplicated people) ---------------------------------------


def test_reach_above_the_ad_is_deduplicated_and_frequency_follows_it(sandbox: Sandbox) -> None:
    truth = sandbox.truth()
    ad_rows: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in truth["insights"]["ad"]:
        for level, key in (
            ("campaign", "campaign_id"),
            ("adset", "adset_id"),
            ("account", "account_id"),
        ):
            ad_rows[(level, row[key], row["date_start"])].append(row)
    below_sum = 0
    for level, key in (
        ("campaign", "campaign_id"),
        ("adset", "adset_id"),
        ("account", "account_id"),
    ):
        for row in truth["insights"][level]:
            parts = ad_rows[(level, row[key], row["date_start"])]
            reach, total = int(row["reach"]), sum(int(p["reach"]) for p in parts)
            assert max(int(p["reach"]) for p in parts) <= reach <= total
            if len(parts) > 1:
                assert reach < total, (level, row)
                below_sum += 1
            assert Decimal(row["frequency"]) == (
                Decimal(row["impressions"]) / Decimal(reach)
            ).quantize(Decimal("0.000001"))
    assert below_sum > 10


def test_multi_id_read_names_unknown_ids_803_for_an_app_from_before_november_2026(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    """Graph API reference, "Multiple ID read requests": the whole read is refused (#803)."""
    sandbox = fresh_sandbox(app_created=date(2025, 3, 1))
    account = sandbox.user()["ad_account_ids"][0]
    campaign = sandbox.get(f"{account}/campaigns", fields="id").json()["data"][0]["id"]
    assert sandbox.client().get("", {"ids": campaign, "fields": "id"}).body[campaign]
    with pytest.raises(InvalidRequestError) as raised:
        sandbox.client().get("", {"ids": f"{campaign},123456789012345", "fields": "id"})
    assert raised.value.code == 803
    assert "123456789012345" in raised.value.message


@pytest.mark.parametrize(
    ("method", "path", "params", "feature"),
    [
        ("GET", "", {"ids": "{campaign}", "fields": "id"}, "multi-ID requests"),
        ("GET", "{campaign}", {"fields": "id.as(x)"}, "field aliases"),
        ("GET", "{campaign}", {"fields": "created_time", "date_format": "U"}, "date/time"),
        ("GET", "{campaign}", {"fields": "id", "method": "delete"}, "HTTP method override"),
        ("GET", "{campaign}", {"fields": "id", "callback": "f"}, "JSONP callbacks"),
        (
            "POST",
            "{account}/async_batch_requests",
            {"adbatch": "[]", "name": "b"},
            "asynchronous batch",
        ),
    ],
)
def test_a_new_app_cannot_use_the_legacy_request_features(
    sandbox: Sandbox, method: str, path: str, params: dict[str, str], feature: str
) -> None:
    """Graph API v27.0 launch post (2026-11-04): apps created from that day (the sandbox's
    default app) cannot use multi-ID requests, date/time formatting, method override, field
    aliases, JSONP callbacks or asynchronous batch requests, on any version."""
    account = sandbox.user()["ad_account_ids"][0]
    campaign = sandbox.get(f"{account}/campaigns", fields="id").json()["data"][0]["id"]
    filled = {k: v.replace("{campaign}", campaign) for k, v in params.items()}
    where = path.replace("{campaign}", campaign).replace("{account}", account)
    answer = sandbox.get(where, **filled) if method == "GET" else sandbox.post(where, **filled)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 100 and error["type"] == "GraphMethodException"
    assert feature in error["message"] and "November 4, 2026" in error["message"]
    plain = sandbox.get(campaign, fields="id,name")  # the same object read plainly answers
    assert plain.status_code == 200 and plain.json()["id"] == campaign
