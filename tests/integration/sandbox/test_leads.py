"""The sandbox's Lead Ads, as Meta's "Retrieving Leads", "Page Lead Forms" and "Webhooks for
Pages" (``leadgen``) describe them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from metasync.sandbox.server import start_sandbox
from metasync.sandbox.world import WorldSize
from tests.support.sandbox import Sandbox

LEAD_WORLD = WorldSize(
    users=2,
    accounts_per_user=1,
    campaigns_per_account=2,
    adsets_per_campaign=1,
    ads_per_adset=2,
    days=10,
    lead_forms_per_page=2,
    leads_per_form=30,
)


@pytest.fixture(scope="module")
def leads_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    service, info = start_sandbox(tmp_path_factory.mktemp("leads"), seed=11, size=LEAD_WORLD)
    yield Sandbox(service.url, info)
    service.stop()


def _page(sandbox: Sandbox, user: int = 0) -> dict[str, Any]:
    reply = sandbox.get("me/accounts", token=sandbox.user(user)["token"])
    assert reply.status_code == 200, reply.text
    pages = reply.json()["data"]
    assert len(pages) == 1
    return pages[0]  # type: ignore[no-any-return]


def _all(sandbox: Sandbox, path: str, token: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        extra = {**params, **({"after": after} if after else {})}
        body = sandbox.get(path, token=token, **extra).json()
        assert "error" not in body, body
        found += body["data"]
        after = body.get("paging", {}).get("cursors", {}).get("after")
        if "next" not in body.get("paging", {}):
            return found


def test_pages_give_their_token_and_forms_need_it(leads_sandbox: Sandbox) -> None:
    page = _page(leads_sandbox)
    assert page["access_token"].startswith("sbx-page-")
    as_user = leads_sandbox.get(f"{page['id']}/leadgen_forms").json()
    assert as_user["error"]["code"] == 190
    assert "Page Access Token" in as_user["error"]["message"]
    same = leads_sandbox.get(page["id"], fields="access_token").json()
    assert same["access_token"] == page["access_token"]
    forms = _all(
        leads_sandbox,
        f"{page['id']}/leadgen_forms",
        page["access_token"],
        fields="id,name,status,locale,questions,created_time",
    )
    assert len(forms) == 2
    keys = [q["key"] for q in forms[0]["questions"]]
    assert keys == ["full_name", "email", "phone_number", "budget"]
    assert forms[0]["questions"][3]["options"][0] == {"key": "under_1000", "value": "Under $1,000"}
    other = _page(leads_sandbox, 1)
    refused = leads_sandbox.get(f"{other['id']}/leadgen_forms", token=page["access_token"])
    assert refused.json()["error"]["code"] == 200


def test_leads_are_filtered_by_time_created_and_paged(leads_sandbox: Sandbox) -> None:
    page = _page(leads_sandbox)
    token = page["access_token"]
    form_id = _all(leads_sandbox, f"{page['id']}/leadgen_forms", token)[0]["id"]
    fields = "id,created_time,ad_id,adset_id,campaign_id,form_id,field_data,is_organic,platform"
    every = _all(leads_sandbox, f"{form_id}/leads", token, fields=fields, limit=7)
    assert len(every) == 30 and len({lead["id"] for lead in every}) == 30
    times = sorted(
        int(datetime.strptime(lead["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp())
        for lead in every
    )
    middle = times[14]
    rule = [{"field": "time_created", "operator": "GREATER_THAN", "value": middle}]
    newer = _all(leads_sandbox, f"{form_id}/leads", token, filtering=json.dumps(rule))
    assert len(newer) == sum(1 for t in times if t > middle)
    for lead in every:
        answers = {item["name"]: item["values"][0] for item in lead["field_data"]}
        assert answers["email"].endswith("@example.com")
        assert answers["phone_number"][5:9] == "5550"
        assert lead["form_id"] == form_id
        assert lead["is_organic"] == ("ad_id" not in lead)
        if not lead["is_organic"]:
            assert lead["adset_id"] and lead["campaign_id"]
    bad = [{"field": "email", "operator": "EQUAL", "value": "x"}]
    refused = leads_sandbox.get(f"{form_id}/leads", token=token, filtering=json.dumps(bad))
    assert refused.json()["error"]["code"] == 100
    default = leads_sandbox.get(f"{form_id}/leads", token=token, limit=1).json()["data"][0]
    assert set(default) == {"created_time", "id", "field_data"}


def test_missing_permissions_answer_meta_errors(
    fresh_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = fresh_sandbox(size=LEAD_WORLD)
    page = _page(sandbox)
    token = page["access_token"]
    form_id = _all(sandbox, f"{page['id']}/leadgen_forms", token)[0]["id"]
    user_token = sandbox.user()["token"]
    granted = ["ads_read", "ads_management", "pages_show_list", "pages_manage_ads"]
    sandbox.control("POST", "tokens/scopes", {"token": user_token, "scopes": granted})
    error = sandbox.get(f"{form_id}/leads", token=token).json()["error"]
    assert error["code"] == 200
    assert "leads_retrieval" in error["message"]
    assert sandbox.get(f"{page['id']}/leadgen_forms", token=token).status_code == 200
    sandbox.control("POST", "tokens/scopes", {"token": user_token, "scopes": granted[:3]})
    error = sandbox.get(f"{page['id']}/leadgen_forms", token=token).json()["error"]
    assert error["code"] == 200 and "pages_manage_ads" in error["message"]


def test_ground_truth_counts_leads_per_ad_and_new_leads_are_announced(
    leads_sandbox: Sandbox,
) -> None:
    truth = leads_sandbox.control("GET", "ground-truth/leads")
    assert truth["total"] == 2 * 2 * 30
    assert sum(truth["by_ad"].values()) + sum(truth["organic_by_form"].values()) == 120
    assert truth["by_ad"]
    form_id = truth["forms"][0]
    made = leads_sandbox.control("POST", "leads/new", {"form_id": form_id, "count": 2})
    assert len(made["leads"]) == 2
    payload = made["webhooks"][0]["payload"]
    assert payload["object"] == "page"
    change = payload["entry"][0]["changes"][0]
    assert change["field"] == "leadgen"
    assert change["value"]["leadgen_id"] == made["leads"][0]
    assert change["value"]["form_id"] == form_id
    assert "field_data" not in json.dumps(payload)
    assert leads_sandbox.control("GET", "ground-truth/leads")["total"] == 122


def test_a_world_without_lead_forms_serves_no_pages(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.control("GET", "ground-truth/leads")["total"] == 0
    assert sandbox.get("me/accounts").json()["error"]["code"] == 2500


def test_pages_subscribe_the_app_to_leadgen_with_their_token(leads_sandbox: Sandbox) -> None:
    page = _page(leads_sandbox, 1)
    path = f"{page['id']}/subscribed_apps"
    as_user = leads_sandbox.post(path, subscribed_fields="leadgen").json()
    assert as_user["error"]["code"] == 190
    missing = leads_sandbox.post(path, token=page["access_token"]).json()
    assert missing["error"]["code"] == 100
    done = leads_sandbox.post(path, token=page["access_token"], subscribed_fields="leadgen")
    assert done.json() == {"success": True}
    listed = leads_sandbox.get(path, token=page["access_token"]).json()["data"]
    assert listed == [
        {"id": leads_sandbox.info["app_id"], "name": "metasync", "subscribed_fields": ["leadgen"]}
    ]
