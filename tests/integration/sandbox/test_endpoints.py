"""Each Graph endpoint of the sandbox, read through metasync's own client and raw HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from metasync.graph import (
    BatchRequest,
    DeprecatedVersionError,
    InvalidRequestError,
    ObjectNotFoundError,
    PermissionDeniedError,
    TokenError,
    batch,
    debug_token,
    exchange_token,
    insights_params,
    iter_pages,
    read_each,
    read_insights,
)
from tests.support.sandbox import Sandbox

ALL_STATUSES = [
    "ACTIVE",
    "PAUSED",
    "DELETED",
    "ARCHIVED",
    "IN_PROCESS",
    "WITH_ISSUES",
    "CAMPAIGN_PAUSED",
    "ADSET_PAUSED",
    "DISAPPROVED",
    "PENDING_REVIEW",
    "PREAPPROVED",
    "PENDING_BILLING_INFO",
]


def everything(prefix: str) -> list[dict[str, object]]:
    return [{"field": f"{prefix}.effective_status", "operator": "IN", "value": ALL_STATUSES}]


def test_me_and_adaccounts(sandbox: Sandbox) -> None:
    client = sandbox.client()
    user = sandbox.user()
    assert client.get("me", {"fields": "id,name"}).body == {"id": user["id"], "name": user["name"]}
    pages = list(
        iter_pages(client, "me/adaccounts", {"fields": "id,currency,timezone_name"}, limit=1)
    )
    assert [p.items[0]["id"] for p in pages] == user["ad_account_ids"]
    assert all(set(p.items[0]) == {"id", "currency", "timezone_name"} for p in pages)


@pytest.mark.parametrize(
    ("edge", "prefix", "key"),
    [
        ("campaigns", "campaign", "campaigns"),
        ("adsets", "adset", "adsets"),
        ("ads", "ad", "ads"),
    ],
)
def test_edges_page_through_everything_and_hide_archived_by_default(
    sandbox: Sandbox, edge: str, prefix: str, key: str
) -> None:
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    truth = [o for o in sandbox.truth()[key] if f"act_{o['account_id']}" == account]
    every = [
        item
        for page in iter_pages(
            client,
            f"{account}/{edge}",
            {"fields": "id,effective_status", "filtering": everything(prefix)},
            limit=3,
        )
        for item in page.items
    ]
    assert sorted(o["id"] for o in every) == sorted(o["id"] for o in truth)
    default = [
        item
        for page in iter_pages(client, f"{account}/{edge}", {"fields": "id"}, limit=3)
        for item in page.items
    ]
    visible = [o["id"] for o in truth if o["effective_status"] not in ("ARCHIVED", "DELETED")]
    assert sorted(o["id"] for o in default) == sorted(visible)
    assert len(visible) < len(truth), "the world should hold archived or deleted objects"


def test_updated_time_filter(sandbox: Sandbox) -> None:
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    ads = [o for o in sandbox.truth()["ads"] if f"act_{o['account_id']}" == account]
    from datetime import datetime

    stamps = sorted(
        int(datetime.strptime(o["updated_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()) for o in ads
    )
    middle = stamps[len(stamps) // 2]
    rules = [
        *everything("ad"),
        {"field": "ad.updated_time", "operator": "GREATER_THAN", "value": middle},
    ]
    newer = [i for p in iter_pages(client, f"{account}/ads", {"filtering": rules}) for i in p.items]
    assert len(newer) == sum(1 for s in stamps if s > middle)


def test_objects_by_id_multi_id_and_fields(sandbox: Sandbox) -> None:
    client = sandbox.client()
    truth = sandbox.truth()
    mine = {a.removeprefix("act_") for a in sandbox.user()["ad_account_ids"]}
    ads = [a for a in truth["ads"] if a["account_id"] in mine][:3]
    one = client.get(ads[0]["id"], {"fields": "id,name,creative{id},adset_id"}).body
    assert one == {
        "id": ads[0]["id"],
        "name": ads[0]["name"],
        "adset_id": ads[0]["adset_id"],
        "creative": {"id": ads[0]["creative"]["id"]},
    }
    many = read_each(client, [a["id"] for a in ads], ["id", "effective_status"]).found
    assert {k: v["effective_status"] for k, v in many.items()} == {
        a["id"]: a["effective_status"] for a in ads
    }
    with pytest.raises(InvalidRequestError, match="nonexisting field"):
        client.get(ads[0]["id"], {"fields": "id,not_a_field"})
    with pytest.raises(ObjectNotFoundError):
        client.get("424242424242")


def test_batch_answers_each_item_with_headers(sandbox: Sandbox) -> None:
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    results = batch(
        client,
        [
            BatchRequest(f"{account}?fields=name,currency"),
            BatchRequest(f"{account}/campaigns?fields=id&limit=2"),
            BatchRequest("777777777?fields=id"),
        ],
    )
    assert results[0].ok and results[0].body["currency"]
    assert results[1].ok and len(results[1].body["data"]) == 2
    assert isinstance(results[2].error, ObjectNotFoundError)
    assert results[0].usage.account is not None
    assert sandbox.control("GET", "counters")["graph_calls"] == 3


def test_sync_insights_match_the_ground_truth(sandbox: Sandbox) -> None:
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][1]
    truth = sandbox.truth()
    first, last = truth["windows"][account.removeprefix("act_")]
    for level in ("account", "campaign", "adset", "ad"):
        expected = [r for r in truth["insights"][level] if f"act_{r['account_id']}" == account]
        params = insights_params(level=level, since=first, until=last)
        got = [
            row
            for page in read_insights(
                client, account, params, account_id=account.removeprefix("act_"), limit=50
            )
            for row in page.items
        ]
        assert got == expected, level


def test_date_presets_follow_the_account_timezone(sandbox: Sandbox) -> None:
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    _, last = sandbox.truth()["windows"][account.removeprefix("act_")]
    yesterday = date.fromisoformat(last)
    rows = [
        r
        for p in read_insights(
            client,
            account,
            insights_params(level="account", date_preset="yesterday"),
            account_id="x",
        )
        for r in p.items
    ]
    assert [r["date_start"] for r in rows] == [yesterday.isoformat()]
    week = [
        r
        for p in read_insights(
            client, account, insights_params(level="account", date_preset="last_7d"), account_id="x"
        )
        for r in p.items
    ]
    assert week[0]["date_start"] == (yesterday - timedelta(days=6)).isoformat()


def test_all_days_aggregates_and_object_insights(sandbox: Sandbox) -> None:
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    truth = sandbox.truth()
    first, last = truth["windows"][account.removeprefix("act_")]
    daily = [r for r in truth["insights"]["campaign"] if f"act_{r['account_id']}" == account]
    campaign = daily[0]["campaign_id"]
    params = insights_params(level="campaign", since=first, until=last, time_increment="all_days")
    total = client.get(f"{campaign}/insights", params).body["data"]
    assert len(total) == 1
    assert int(total[0]["impressions"]) == sum(
        int(r["impressions"]) for r in daily if r["campaign_id"] == campaign
    )
    assert total[0]["date_start"] == first and total[0]["date_stop"] == last


def test_retention_of_37_months(sandbox: Sandbox) -> None:
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    with pytest.raises(InvalidRequestError, match="37 months"):
        client.get(
            f"{account}/insights",
            insights_params(level="ad", since="2020-01-01", until="2020-01-31"),
        )


def test_tokens_exchange_debug_and_errors(sandbox: Sandbox) -> None:
    from metasync.graph import GraphConfig

    config = GraphConfig(
        base_url=sandbox.graph_url, app_secret=sandbox.info["app_secret"], max_retries=0
    )
    long_lived = exchange_token(config, sandbox.info["app_id"], sandbox.user()["token"])
    assert long_lived.expires_at is not None and long_lived.access_token != sandbox.user()["token"]
    info = debug_token(config, sandbox.info["app_id"], long_lived.access_token)
    assert info.is_valid and info.user_id == sandbox.user()["id"] and "ads_read" in info.scopes
    unknown = sandbox.get("me", token="sbx-not-a-token")
    assert (
        unknown.json()["error"]["code"] == 190 and unknown.json()["error"]["error_subcode"] == 467
    )


def test_expired_token_gets_190_463(fresh_sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox = fresh_sandbox()
    sandbox.control("POST", "tokens/expire", {"user_id": sandbox.user()["id"]})
    with pytest.raises(TokenError) as caught:
        sandbox.client().get("me")
    assert caught.value.code == 190 and caught.value.subcode == 463 and caught.value.expired
    assert sandbox.client(1).get("me").status == 200  # the other user is unaffected


def test_appsecret_proof_is_enforced(sandbox: Sandbox) -> None:
    url = f"{sandbox.graph_url}/me"
    token = sandbox.user()["token"]
    missing = sandbox.http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    wrong = sandbox.http.get(
        url,
        params={"appsecret_proof": "0" * 64},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert "appsecret_proof" in missing.json()["error"]["message"]
    assert wrong.json()["error"]["message"].startswith("Invalid appsecret_proof")
    assert sandbox.get("me").status_code == 200
    assert sandbox.control("GET", "counters")["proof"] == {"missing": 1, "invalid": 1, "valid": 1}


def test_other_users_accounts_are_forbidden(sandbox: Sandbox) -> None:
    other = sandbox.user(1)["ad_account_ids"][0]
    with pytest.raises(PermissionDeniedError):
        sandbox.client(0).get(other, {"fields": "name"})


@pytest.mark.parametrize("version", ["v21.0", "v24.0", "v2.0"])
def test_an_expired_version_answers_2635_naming_the_latest(sandbox: Sandbox, version: str) -> None:
    """Marketing API changelog, "Versions": every version up to v24.0 expired by 2026-11-10."""
    from metasync.graph import GraphClient, GraphConfig

    latest = sandbox.info["api_version"]
    config = GraphConfig(
        base_url=sandbox.graph_url.replace(latest, version),
        app_secret=sandbox.info["app_secret"],
        max_retries=0,
    )
    with pytest.raises(DeprecatedVersionError) as raised:
        GraphClient(sandbox.user()["token"], config).get("me")
    assert raised.value.code == 2635
    assert f"latest version: {latest}" in raised.value.message


def test_every_live_version_is_served(sandbox: Sandbox) -> None:
    assert sandbox.info["api_versions"] == ["v25.0", "v26.0", "v27.0"]
    assert sandbox.info["api_version"] == "v27.0"
    for version in sandbox.info["api_versions"]:
        response = sandbox.get("me", version=version)
        assert response.status_code == 200, response.text


def test_subscriptions_and_subscribed_apps(sandbox: Sandbox) -> None:
    client = sandbox.client()
    app_id = sandbox.info["app_id"]
    account = sandbox.user()["ad_account_ids"][0]
    assert client.post(
        f"{app_id}/subscriptions",
        {
            "object": "ad_account",
            "callback_url": "http://127.0.0.1:9/hook",
            "fields": "with_issues_ad_objects,in_process_ad_objects",
            "verify_token": "v",
        },
    ).body == {"success": True}
    listed = client.get(f"{app_id}/subscriptions").body["data"]
    assert listed[0]["fields"] == ["with_issues_ad_objects", "in_process_ad_objects"]
    assert "verify_token" not in json.dumps(listed)
    assert client.post(f"{account}/subscribed_apps").body == {"success": True}
    assert client.get(f"{account}/subscribed_apps").body["data"][0]["id"] == app_id
