"""What a security review of the REST API found, each with the test that failed before its fix:
breakdown filters applied as MongoDB operators, cursors that crash the server, one key flooding
the shared queue, and keys that could do everything."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metasync.api.keys import ApiKeyError, create_key, set_scopes
from metasync.models import OperatorAction, Recommendation, SyncRun, utcnow
from tests.support.api_mirror import TenantMirror


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_breakdown_filters_take_known_names_and_plain_values(
    api: TestClient, tenants: tuple[TenantMirror, TenantMirror]
) -> None:
    """Before: ``country__regex=(`` was a 500 and ``__ne``/``__regex`` were MongoDB operators."""
    _, key = create_key("acme")
    path = "/api/v1/reports/country/rows"
    every = api.get(path, headers=_auth(key)).json()["data"]
    assert every, "the tenant has country rows"
    us = api.get(path, headers=_auth(key), params={"breakdown": "country=US"}).json()["data"]
    assert us and {r["breakdowns"]["country"] for r in us} == {"US"}
    for operator in ("country__regex=(", "country__ne=US", "country__exists=1", "nope=US"):
        answer = api.get(path, headers=_auth(key), params={"breakdown": operator})
        assert answer.status_code == 400, (operator, answer.text)
        assert "breakdown" in answer.json()["detail"], operator
    for literal in ("$ne", "{'$ne': 'US'}", ".*"):
        found = api.get(path, headers=_auth(key), params={"breakdown": f"country={literal}"})
        assert found.status_code == 200 and found.json()["data"] == [], literal


def test_cursors_are_bounded(api: TestClient, tenants: tuple[TenantMirror, TenantMirror]) -> None:
    """Before: a cursor of nested lists was a 500."""
    _, key = create_key("acme")
    nested = base64.urlsafe_b64encode(b"[" * 5_000 + b"]" * 5_000).decode()
    shallow = base64.urlsafe_b64encode(b'[["a"], ["b"], ["c"]]').decode()
    paths = ("/api/v1/ads", "/api/v1/recommendations", "/api/v1/reports/country/rows")
    for path, params in (("/api/v1/insights", {"level": "ad"}), *((p, {}) for p in paths)):
        for cursor in (nested, shallow, "A" * 5000):
            answer = api.get(path, headers=_auth(key), params={**params, "cursor": cursor})
            assert answer.status_code == 400, (path, answer.text[:200])
            assert "cursor" in str(answer.json()["detail"])


@pytest.mark.parametrize("api_settings", [{"API_BURST": "5", "API_REQUESTS_PER_MINUTE": "6"}])
def test_each_key_has_a_token_bucket(
    api: TestClient, tenants: tuple[TenantMirror, TenantMirror]
) -> None:
    """Before: one key sent 300 requests in 1.6 s, all served."""
    _, key = create_key("acme")
    _, other = create_key("acme")
    answers = [api.get("/api/v1/accounts", headers=_auth(key)) for _ in range(7)]
    assert [a.status_code for a in answers[:5]] == [200] * 5, "the burst goes through"
    refused = answers[5]
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 10
    assert "retry in" in refused.json()["detail"]
    assert api.get("/api/v1/accounts", headers=_auth(other)).status_code == 200, "per key"


def test_one_pending_sync_per_connection(
    api: TestClient,
    tenants: tuple[TenantMirror, TenantMirror],
    requested: list[tuple[str, dict[str, Any]]],
) -> None:
    """Before: 300 full-sync requests of one key were all queued on the shared queue."""
    acme, _ = tenants
    _, key = create_key("acme", scopes=("sync",))
    body = {"connection_id": acme.connection_id, "full": True}
    first = api.post("/api/v1/syncs", headers=_auth(key), json=body)
    assert first.status_code == 202
    pending = first.json()["request_id"]
    for _ in range(5):
        again = api.post("/api/v1/syncs", headers=_auth(key), json=body)
        assert again.status_code == 409 and pending in again.json()["detail"]
    assert len(requested) == 1 and OperatorAction.objects(action="sync").count() == 1
    SyncRun(connection_id=acme.connection_id, tenant_id="acme", kind="entities",
            status="succeeded", request_id=pending, finished_at=utcnow()).save()  # fmt: skip
    assert api.post("/api/v1/syncs", headers=_auth(key), json=body).status_code == 202
    assert len(requested) == 2


def test_keys_read_only_unless_given_scopes(
    api: TestClient, tenants: tuple[TenantMirror, TenantMirror]
) -> None:
    """Before: a BI tool's key could approve recommendations."""
    acme, _ = tenants
    record, key = create_key("acme")
    assert record.scopes == ["read"]
    assert api.get("/api/v1/accounts", headers=_auth(key)).status_code == 200
    approve = f"/api/v1/recommendations/{acme.recommendation_id}/approve"
    sync = {"connection_id": acme.connection_id}
    for method, path, scope, body in (("POST", approve, "optimize", None),
                                      ("POST", "/api/v1/syncs", "sync", sync)):  # fmt: skip
        refused = api.request(method, path, headers=_auth(key), json=body)
        assert refused.status_code == 403 and f"--scope {scope}" in refused.json()["detail"]
    assert Recommendation.objects.get(pk=acme.recommendation_id).state == "proposed"
    set_scopes("acme", record.key_id, ["optimize"])
    assert api.post(approve, headers=_auth(key)).status_code == 200
    assert api.post("/api/v1/syncs", headers=_auth(key), json=sync).status_code == 403
    with pytest.raises(ApiKeyError, match="unknown scope admin"):
        create_key("acme", scopes=("admin",))
