"""The REST API with real MongoDB and Redis (in-process ASGI client): keys, tenant isolation on
every endpoint, cursor pagination, parameters named when bad, sync requests recorded."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from metasync.api.keys import create_key, revoke
from metasync.health.records import refresh_health
from metasync.models import (
    AccountFeatures,
    Ad,
    ApiKey,
    Campaign,
    DailyInsight,
    MetaConnection,
    OperatorAction,
    Recommendation,
    ReportAccess,
    ReportAccessState,
)
from metasync.models.base import utcnow
from tests.integration.test_cli import run, with_database
from tests.support.api_mirror import TenantMirror, build_tenant


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _every_page(api: TestClient, key: str, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, following ``next_cursor`` from the first page to the last."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get(
            path, headers=_auth(key), params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        items += page.json()["data"]
        if (cursor := page.json()["next_cursor"]) is None:
            return items


def _api_routes(api: TestClient) -> set[tuple[str, str]]:
    """Every operation of ``/api/v1`` in the OpenAPI schema (what a client can call)."""
    paths = api.app.openapi()["paths"]  # type: ignore[attr-defined]
    found = {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1")
        for method in operations
    }
    assert len(found) >= 10, found
    return found


def test_every_endpoint_needs_a_live_key(
    api: TestClient, tenants: tuple[TenantMirror, TenantMirror]
) -> None:
    record, key = create_key("acme")
    assert api.get("/api/v1/accounts", headers=_auth(key)).status_code == 200
    assert api.get("/api/v1/accounts", headers={"X-API-Key": key}).status_code == 200
    revoke("acme", record.key_id)
    for method, path in sorted(_api_routes(api)):
        concrete = path.replace("{decision}", "approve")
        for name in ("account_id", "entity_id", "recommendation_id", "request_id", "report"):
            concrete = concrete.replace("{" + name + "}", "1")
        for headers in ({}, _auth(key), _auth("msk_nope_nope"), _auth("not-a-key")):
            answer = api.request(method, concrete, headers=headers, json={"connection_id": "1"})
            assert answer.status_code == 401, (method, concrete, headers, answer.text)
            assert "API key" in answer.json()["detail"]
    stored = ApiKey.objects.get(key_id=record.key_id)
    assert key.split("_")[-1] not in str(stored.to_mongo()), "only a digest of the secret is kept"


def test_a_key_reads_and_acts_for_its_own_tenant_only_on_every_endpoint(
    api: TestClient,
    tenants: tuple[TenantMirror, TenantMirror],
    requested: list[tuple[str, dict[str, Any]]],
) -> None:
    acme, globex = tenants
    _, key = create_key("acme", scopes=("sync", "optimize", "leads", "lead_answers"))
    headers = _auth(key)
    covered: set[tuple[str, str]] = set()

    def get(template: str, path: str, **params: Any) -> Any:
        covered.add(("GET", template))
        answer = api.get(path, headers=headers, params=params)
        return answer

    def ids(answer: Any, field: str = "id") -> set[str]:
        assert answer.status_code == 200, answer.text
        return {item[field] for item in answer.json()["data"]}

    assert ids(get("/api/v1/accounts", "/api/v1/accounts")) == {acme.account_id}
    for kind, own, other in (
        ("campaigns", acme.campaign_id, globex.campaign_id),
        ("adsets", acme.adset_id, globex.adset_id),
        ("ads", acme.ad_id, globex.ad_id),
    ):
        assert ids(get(f"/api/v1/{kind}", f"/api/v1/{kind}")) == {own}
        mine = get(f"/api/v1/{kind}/{{entity_id}}", f"/api/v1/{kind}/{own}")
        assert mine.status_code == 200 and mine.json()["id"] == own
        guessed = get(f"/api/v1/{kind}/{{entity_id}}", f"/api/v1/{kind}/{other}")
        assert guessed.status_code == 404 and "of this tenant" in guessed.json()["detail"]
        filtered = get(f"/api/v1/{kind}", f"/api/v1/{kind}", account_id=globex.account_id)
        assert ids(filtered) == set(), "filtering on another tenant's account finds nothing"
    rows = get("/api/v1/insights", "/api/v1/insights", level="ad", entity_id=globex.ad_id)
    assert ids(rows, "entity_id") == set()
    assert ids(get("/api/v1/insights", "/api/v1/insights", level="ad"), "entity_id") == {acme.ad_id}
    template = "/api/v1/reports/{report}/rows"
    rows = get(template, "/api/v1/reports/country/rows", breakdown="country=US")
    assert ids(rows, "entity_id") == {acme.ad_id}
    assert {r["breakdowns"]["country"] for r in rows.json()["data"]} == {"US"}
    assert rows.json()["data"][0]["conversions_by_window"] == {"7d_click": "2"}
    assert get(template, "/api/v1/reports/age_gender/rows").status_code == 404, "globex's"
    assert ids(get("/api/v1/leads", "/api/v1/leads")) == {acme.lead_id}
    assert ids(get("/api/v1/leads", "/api/v1/leads", ad_id="1", form_id="772")) == set()
    assert ids(get("/api/v1/lead-forms", "/api/v1/lead-forms")) == {"771"}
    health = get("/api/v1/health", "/api/v1/health")
    assert {h["account_id"] for h in health.json()} == {acme.account_id}
    template = "/api/v1/accounts/{account_id}/health"
    assert get(template, f"/api/v1/accounts/{acme.account_id}/health").status_code == 200
    assert get(template, f"/api/v1/accounts/{globex.account_id}/health").status_code == 404
    assert ids(get("/api/v1/recommendations", "/api/v1/recommendations")) == {
        acme.recommendation_id
    }
    for mirror in (acme, globex):
        AccountFeatures(
            tenant_id=mirror.tenant_id,
            account_id=mirror.account_id,
            features={"frequency_value": {"status": "enabled"}},
            read_at=utcnow(),
        ).save()
    template = "/api/v1/accounts/{account_id}/features"
    features = get(template, f"/api/v1/accounts/{acme.account_id}/features")
    assert features.status_code == 200 and features.json()["account_id"] == acme.account_id
    assert get(template, f"/api/v1/accounts/{globex.account_id}/features").status_code == 404
    template = "/api/v1/syncs/{request_id}"
    assert get(template, f"/api/v1/syncs/{acme.request_id}").json()["status"] == "succeeded"
    assert get(template, f"/api/v1/syncs/{globex.request_id}").status_code == 404
    # writes: another tenant's recommendation and connection are unknown; nothing happens
    covered |= {("POST", "/api/v1/recommendations/{recommendation_id}/{decision}"),
                ("POST", "/api/v1/recommendations/{recommendation_id}/apply"),
                ("POST", "/api/v1/syncs")}  # fmt: skip
    foreign = api.post(f"/api/v1/recommendations/{globex.recommendation_id}/apply", headers=headers)
    assert foreign.status_code == 404, foreign.text
    other = api.post(f"/api/v1/recommendations/{globex.recommendation_id}/approve", headers=headers)
    assert other.status_code == 404
    assert Recommendation.objects.get(pk=globex.recommendation_id).state == "proposed"
    mine = api.post(f"/api/v1/recommendations/{acme.recommendation_id}/approve", headers=headers)
    assert mine.status_code == 200 and mine.json()["state"] == "approved"
    assert mine.json()["decided_by"].startswith("api-key:")
    refused = api.post(
        "/api/v1/syncs", headers=headers, json={"connection_id": globex.connection_id}
    )
    assert refused.status_code == 404 and requested == []
    assert covered == _api_routes(api), "every endpoint is checked for isolation"


def test_pages_follow_a_cursor_and_bad_parameters_are_named(
    api: TestClient, tenants: tuple[TenantMirror, TenantMirror]
) -> None:
    acme, _ = tenants
    build_tenant("many", 3, days=120)  # 240 rows: the account's and the ad's
    _, key = create_key("many")
    seen: list[tuple[str, str]] = []
    for row in _every_page(api, key, "/api/v1/insights", level="account", limit=50):
        seen.append((row["date"], row["entity_id"]))
    assert len(seen) == 120 == len(set(seen)) and seen == sorted(seen), "every row once, in order"
    assert DailyInsight.objects(tenant_id="many", level="account").count() == 120
    keyed: list[tuple[str, str]] = []
    for row in _every_page(api, key, "/api/v1/reports/age_gender/rows", limit=50):
        keyed.append((row["date_start"], row["breakdowns"]["age"]))
    assert len(keyed) == 240 == len(set(keyed)) and keyed == sorted(keyed), "report rows too"
    _, acme_key = create_key("acme")
    cases = {
        ("/api/v1/insights", "level"): {"level": "week"},
        ("/api/v1/insights", "since"): {"level": "ad", "since": "2026-02-30"},
        ("/api/v1/insights", "until"): {
            "level": "ad",
            "since": "2026-03-02",
            "until": "2026-03-01",
        },
        ("/api/v1/insights", "cursor"): {"level": "ad", "cursor": "bm90IGEgY3Vyc29y"},
        ("/api/v1/ads", "limit"): {"limit": 0},
        ("/api/v1/campaigns", "adset_id"): {"adset_id": acme.adset_id},
    }
    for (path, name), params in cases.items():
        answer = api.get(path, headers=_auth(acme_key), params=params)
        assert 400 <= answer.status_code < 500, (path, params, answer.text)
        detail = answer.json()["detail"]
        named = detail if isinstance(detail, str) else " ".join(str(d["loc"]) for d in detail)
        assert name in named or (name == "until" and "since" in named), (name, detail)
    # a parameter given twice is refused, not silently read as its last value
    twice = api.get("/api/v1/insights?level=ad&until=2026-03-02&until=0.0", headers=_auth(acme_key))
    assert twice.status_code == 400, twice.text
    assert twice.json()["detail"] == "until: given more than once (a single value is expected)"


def test_recommendations_come_newest_first_page_by_page(
    api: TestClient, tenants: tuple[TenantMirror, TenantMirror]
) -> None:
    acme, _ = tenants
    for number in range(5):
        Recommendation(tenant_id="acme", key=f"later-{number}", account_id=acme.account_id,
                       level="ad", entity_id=acme.ad_id, rule="r", kind="creative_fatigue",
                       action="flag").save()  # fmt: skip
    _, key = create_key("acme")
    seen = [row["id"] for row in _every_page(api, key, "/api/v1/recommendations", limit=2)]
    assert len(seen) == 6 and seen == sorted(seen, reverse=True), "newest first, each once"
    assert seen[-1] == acme.recommendation_id, "the first one proposed comes last"


def test_a_sync_request_is_queued_recorded_and_followed(
    api: TestClient,
    tenants: tuple[TenantMirror, TenantMirror],
    requested: list[tuple[str, dict[str, Any]]],
) -> None:
    acme, _ = tenants
    record, key = create_key("acme", scopes=("sync",))
    body = {"connection_id": acme.connection_id, "kind": "performance",
            "since": "2026-11-01", "until": "2026-11-07"}  # fmt: skip
    answer = api.post("/api/v1/syncs", headers=_auth(key), json=body)
    assert answer.status_code == 202, answer.text
    request_id = answer.json()["request_id"]
    [(connection_id, kwargs)] = requested
    assert connection_id == acme.connection_id and kwargs["kind"] == "performance"
    assert kwargs["period"] == {"preset": None, "since": "2026-11-01", "until": "2026-11-07"}
    action = OperatorAction.objects.get(tenant_id="acme", action="sync")
    assert action.by == f"api-key:{record.key_id}" and action.details["request_id"] == request_id
    status = api.get(f"/api/v1/syncs/{request_id}", headers=_auth(key)).json()
    assert status == {**status, "status": "queued", "run_id": None}
    bad = api.post("/api/v1/syncs", headers=_auth(key),
                   json={"connection_id": acme.connection_id, "since": "2026-11-01"})  # fmt: skip
    assert bad.status_code == 400 and "performance" in bad.json()["detail"]


def test_the_cli_creates_lists_and_revokes_keys(
    env: dict[str, str], mongo_uri: str, mongo: str
) -> None:
    cli_env = {**env, "MONGODB_URI": with_database(mongo_uri, mongo)}
    for tenant in ("acme", "globex"):  # tenants the CLI knows
        MetaConnection(tenant_id=tenant, meta_user_id="u1").save()
    created = run(["api-keys", "create", "--tenant", "acme", "--name", "dashboards"], cli_env)
    assert created.returncode == 0, created.stderr
    plain = created.stdout.strip().splitlines()[-1]
    assert plain.startswith("msk_")
    key_id = plain.split("_")[1]
    listed = run(["api-keys", "list", "--tenant", "acme"], cli_env)
    assert key_id in listed.stdout and "dashboards" in listed.stdout
    secret = plain.split("_", 2)[2]  # msk_<key id>_<secret>; the secret may hold "_" itself
    assert secret not in listed.stdout, "the secret is shown once only"
    assert run(["api-keys", "revoke", "--tenant", "acme", key_id], cli_env).returncode == 0
    other = run(["api-keys", "revoke", "--tenant", "globex", key_id], cli_env)
    assert other.returncode == 2 and "has no API key" in other.stderr


def test_a_wrong_method_names_the_allowed_ones(api: TestClient) -> None:
    for method, path, allowed in (
        ("GET", "/api/v1/syncs", "POST"),
        ("DELETE", "/api/v1/ads/123", "GET"),
        ("PUT", "/webhooks/meta", "GET, POST"),
    ):
        answer = api.request(method, path)
        assert answer.status_code == 405, (method, path)
        assert answer.headers["allow"] == allowed, (method, path, answer.headers.get("allow"))


def test_withheld_reports_and_the_v23_object_fields_are_in_the_api(
    api: TestClient, tenants: tuple[TenantMirror, TenantMirror]
) -> None:
    """Meta withholds opt-in breakdowns from accounts that have not opted in (2026-08-03): the
    account's health names those reports; ads carry why Meta disapproved them (v23+)."""
    acme, _ = tenants
    ReportAccess(
        tenant_id="acme", account_id=acme.account_id, report="placement_device",
        state=ReportAccessState.NOT_OPTED_IN, delivered_impressions=120,
    ).save()  # fmt: skip
    ReportAccess(
        tenant_id="acme", account_id=acme.account_id, report="hourly_audience",
        state=ReportAccessState.AVAILABLE,
    ).save()  # fmt: skip
    reason = {"global": {"Unrealistic outcomes": "Ads may not promise guaranteed earnings."}}
    Ad.objects(tenant_id="acme", meta_id=acme.ad_id).update(
        set__effective_status="DISAPPROVED", set__ad_review_feedback=reason
    )
    Campaign.objects(tenant_id="acme", meta_id=acme.campaign_id).update(
        set__advantage_state_info={"advantage_state": "ADVANTAGE_PLUS_SALES"},
        set__is_adset_budget_sharing_enabled=False,
    )
    refresh_health("acme")  # as the run that recorded it does when it closes
    _, key = create_key("acme")
    health = api.get(f"/api/v1/accounts/{acme.account_id}/health", headers=_auth(key)).json()
    assert [h["not_opted_in"] for h in health] == [["placement_device"]]
    ad = api.get(f"/api/v1/ads/{acme.ad_id}", headers=_auth(key)).json()
    assert ad["ad_review_feedback"] == reason and ad["effective_status"] == "DISAPPROVED"
    campaign = api.get(f"/api/v1/campaigns/{acme.campaign_id}", headers=_auth(key)).json()
    assert campaign["advantage_state_info"] == {"advantage_state": "ADVANTAGE_PLUS_SALES"}
    assert campaign["is_adset_budget_sharing_enabled"] is False
