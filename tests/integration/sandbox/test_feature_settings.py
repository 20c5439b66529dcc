"""The sandbox serves Meta's "Feature Settings API" (page of that name, updated 2026-08-07) on
its own host and path, and the Insights API answers gated breakdowns only when the account's
feature is in effect."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests

from tests.integration.sandbox.test_breakdowns import read_all, window
from tests.support.sandbox import Sandbox

FEATURES = {"comscore", "frequency_value", "impression_device", "time_of_day_viewer_tz"}


def _call(
    sandbox: Sandbox,
    method: str,
    account: str,
    tail: str = "",
    token: str | None = None,
    **params: Any,
) -> requests.Response:
    """A Feature Settings API call as Meta's samples make it: ``Authorization: Bearer``."""
    token = token or sandbox.user()["token"]
    proof = sandbox._auth(token)["appsecret_proof"]
    version = sandbox.info["api_version"]
    base = f"{sandbox.info['ads_api_url']}/{version}/marketing-api"
    url = f"{base}/{account}/insights/feature-settings{tail}"
    return sandbox.http.request(
        method,
        url,
        params={"appsecret_proof": proof, **params},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _statuses(sandbox: Sandbox, account: str) -> dict[str, str]:
    answer = _call(sandbox, "GET", account, "/list-features")
    assert answer.status_code == 200, answer.text
    return {item["feature_name"]: item["status"] for item in answer.json()["data"]}


def test_the_api_lives_on_its_own_host_path_not_under_the_graph_api(sandbox: Sandbox) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    assert not sandbox.info["ads_api_url"].startswith(sandbox.graph_url)
    graph = sandbox.get(f"{account}/insights/feature-settings/list-features")
    assert graph.status_code == 400  # the Graph API has no such edge
    assert _call(sandbox, "GET", account, "/list-features").status_code == 200


def test_the_world_has_accounts_in_each_state(sandbox: Sandbox) -> None:
    """Four breakdown features; every state (in effect, pending, not enabled) exists."""
    user = sandbox.user()
    seen: set[str] = set()
    for account in user["ad_account_ids"]:
        statuses = _statuses(sandbox, account)
        assert set(statuses) == FEATURES
        seen |= set(statuses.values())
        everything = set(statuses.values()) == {"ENABLED"}
        assert everything is (account in user["opted_in_account_ids"])
    assert seen == {"ENABLED", "PENDING", "NOT_ENABLED"}
    opted = user["opted_in_account_ids"][0]
    enabled = _call(sandbox, "GET", opted).json()["data"]
    assert {item["feature_name"] for item in enabled} == FEATURES
    assert all(item["insights_effective_date"].endswith("+0000") for item in enabled)
    one = _call(sandbox, "GET", opted, feature_name="comscore").json()["data"]
    assert [item["feature_name"] for item in one] == ["comscore"]


def test_enabling_takes_24_hours_and_then_unlocks_the_breakdowns(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    """ "Allow up to 24 hours for the change to take effect"; ads_read is enough; "the API
    does not support disabling a feature"."""
    sandbox = fresh_sandbox()
    user = sandbox.user()
    account = next(a for a in user["ad_account_ids"] if a not in user["opted_in_account_ids"])
    sandbox.control("POST", "tokens/scopes", {"token": user["token"], "scopes": ["ads_read"]})
    assert _statuses(sandbox, account)["impression_device"] == "NOT_ENABLED"
    params = {"level": "ad", "fields": "impressions", "breakdowns": "impression_device"}
    assert read_all(sandbox, account, **params, **window(sandbox, account)) == []

    answer = _call(sandbox, "POST", account, feature_name="impression_device")
    assert answer.status_code == 200 and answer.json() == {"success": True}
    assert _statuses(sandbox, account)["impression_device"] == "PENDING"
    assert read_all(sandbox, account, **params, **window(sandbox, account)) == []

    sandbox.control("POST", "feature-settings/elapse", {"hours": 23})
    assert _statuses(sandbox, account)["impression_device"] == "PENDING"
    sandbox.control("POST", "feature-settings/elapse", {"hours": 1})
    assert _statuses(sandbox, account)["impression_device"] == "ENABLED"
    assert read_all(sandbox, account, **params, **window(sandbox, account))
    # the other gated breakdowns stay withheld: one feature unlocks only its own
    other = {**params, "breakdowns": "frequency_value"}
    assert read_all(sandbox, account, **other, **window(sandbox, account)) == []
    # no way back
    assert _call(sandbox, "DELETE", account, feature_name="impression_device").status_code == 400


def test_comscore_is_gated_like_the_others(fresh_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = fresh_sandbox()
    user = sandbox.user()
    opted = user["opted_in_account_ids"][0]
    other = next(a for a in user["ad_account_ids"] if a not in user["opted_in_account_ids"])
    common = {"level": "ad", "fields": "impressions", "breakdowns": "comscore_market"}
    assert read_all(sandbox, opted, **common, **window(sandbox, opted))
    assert read_all(sandbox, other, **common, **window(sandbox, other)) == []


def test_refusals(sandbox: Sandbox) -> None:
    user = sandbox.user()
    account = user["ad_account_ids"][0]
    unknown = _call(sandbox, "POST", account, feature_name="dma")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == 100
    foreign = _call(sandbox, "GET", "act_999999999", "/list-features")
    assert foreign.status_code == 400 and foreign.json()["error"]["error_subcode"] == 33
    bad = _call(sandbox, "GET", account, "/list-features", token="nope")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 190
    gone = sandbox.http.get(
        f"{sandbox.info['ads_api_url']}/v1.0/marketing-api/{account}/insights/feature-settings",
        timeout=30,
    )
    assert gone.status_code == 400 and gone.json()["error"]["code"] == 2635
    assert json.loads(json.dumps(_statuses(sandbox, account)))  # still answers afterwards
