"""The library edges and the activity log of the sandbox, as Meta serves them."""

from __future__ import annotations

import json
from datetime import datetime

from metasync.graph import iter_pages
from tests.support.sandbox import Sandbox


def _account(sandbox: Sandbox, user: int = 0) -> str:
    return str(sandbox.user(user)["ad_account_ids"][-1]).removeprefix("act_")


def test_libraries_answer_with_metas_shapes_and_refuse_what_meta_refuses(
    sandbox: Sandbox,
) -> None:
    account = _account(sandbox)
    images = sandbox.get(
        f"act_{account}/adimages", fields="hash,width,status,creatives,updated_time"
    ).json()
    first = images["data"][0]
    updated = [i["updated_time"] for i in images["data"]]
    assert updated == sorted(updated, reverse=True), "most recently updated first, as Meta lists"
    assert first["id"] == f"{account}:{first['hash']}" and isinstance(first["width"], int)
    assert {i["status"] for i in images["data"]} >= {"ACTIVE", "DELETED"}
    chosen = sandbox.get(
        f"act_{account}/adimages", fields="hash", hashes=json.dumps([first["hash"]])
    ).json()
    assert [i["hash"] for i in chosen["data"]] == [first["hash"]]
    videos = sandbox.get(f"act_{account}/advideos", fields="title,length,status").json()
    assert videos["data"][0]["status"]["video_status"] == "ready"
    conversions = sandbox.get(
        f"act_{account}/customconversions", fields="rule,custom_event_type,pixel"
    ).json()["data"]
    assert "PURCHASE" in {c["custom_event_type"] for c in conversions}
    assert all(isinstance(c["rule"], str) for c in conversions), "Meta sends the rule as JSON text"
    audiences = sandbox.get(
        f"act_{account}/customaudiences",
        fields="subtype,approximate_count_lower_bound,approximate_count_upper_bound,time_created",
    ).json()["data"]
    assert all(
        a["approximate_count_lower_bound"] <= a["approximate_count_upper_bound"]
        and isinstance(a["time_created"], int)
        for a in audiences
    )
    # no updated_time filter on libraries: refused, not silently ignored
    refused = sandbox.get(
        f"act_{account}/advideos",
        filtering=json.dumps([{"field": "updated_time", "operator": "GREATER_THAN", "value": 1}]),
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100
    unknown = sandbox.get(f"act_{account}/customaudiences", fields="members")
    assert unknown.status_code == 400 and "nonexisting field (members)" in unknown.text


def test_activities_are_read_by_time_newest_first(sandbox: Sandbox) -> None:
    account = _account(sandbox)
    fields = "event_time,event_type,object_id,actor_name,extra_data"
    everything = list(
        iter_pages(sandbox.client(), f"act_{account}/activities", {"fields": fields}, limit=7)
    )
    events = [e for page in everything for e in page.items]
    assert len(events) > 7 and len(everything) > 1, "paginated"
    times = [e["event_time"] for e in events]
    assert times == sorted(times, reverse=True)
    assert all(isinstance(e["extra_data"], str) for e in events), "extra_data is a JSON string"
    middle = times[len(times) // 2]
    cut = int(datetime.strptime(middle, "%Y-%m-%dT%H:%M:%S%z").timestamp())
    since = sandbox.get(f"act_{account}/activities", fields=fields, since=cut, limit=500).json()
    assert [e["event_time"] for e in since["data"]] == [t for t in times if t >= middle]
    bad = sandbox.get(f"act_{account}/activities", since="last tuesday")
    assert bad.status_code == 400 and "since" in bad.json()["error"]["message"]
    campaign = next(e for e in events if e["event_type"] == "create_campaign_group")["object_id"]
    sandbox.control("POST", "mutate", {"id": campaign, "action": "pause"})
    newest = sandbox.get(f"act_{account}/activities", fields=fields, limit=1).json()["data"][0]
    assert (newest["object_id"], newest["event_type"]) == (campaign, "update_campaign_run_status")
    assert json.loads(newest["extra_data"])["new_value"] == "Inactive"


def test_an_unlisted_deleted_object_still_answers_by_id(sandbox: Sandbox) -> None:
    account, token = _account(sandbox, 1), sandbox.user(1)["token"]
    statuses = json.dumps(
        [
            {
                "field": "ad.effective_status",
                "operator": "IN",
                "value": ["ACTIVE", "PAUSED", "DELETED"],
            }
        ]
    )
    ads = sandbox.get(
        f"act_{account}/ads", token, fields="id", filtering=statuses, limit=500
    ).json()
    ad = ads["data"][0]["id"]
    sandbox.control("POST", "mutate", {"id": ad, "action": "unlist"})
    listed = sandbox.get(
        f"act_{account}/ads", token, fields="id", filtering=statuses, limit=500
    ).json()
    assert ad not in {a["id"] for a in listed["data"]}
    by_id = sandbox.get(ad, token, fields="effective_status").json()
    assert by_id["effective_status"] == "DELETED"
