"""The webhook app with real Redis and MongoDB (in-process ASGI client), plus schemathesis."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metasync.api.keys import create_key
from metasync.config import ConfigurationError, load_settings
from metasync.embedded import start_web
from metasync.models import WebhookEvent, WebhookStatus
from metasync.webhooks import Change
from metasync.webhooks.app import MAX_BODY_BYTES, create_app
from tests.support.api_mirror import build_tenant

VERIFY = "verify-me-please"


@pytest.fixture
def queued() -> list[tuple[Change, str]]:
    return []


@pytest.fixture
def web_env(env: dict[str, str], mongo_uri: str, mongo: str, redis_prefix: str) -> dict[str, str]:
    base = mongo_uri.rstrip("/").split("?")[0]
    return {
        **env,
        "MONGODB_URI": f"{base}/{mongo}",
        "REDIS_KEY_PREFIX": redis_prefix,
        "META_APP_VERIFY_TOKEN": VERIFY,
    }


@pytest.fixture
def client(
    web_env: dict[str, str], queued: list[tuple[Change, str]], redis_client: redis.Redis
) -> Iterator[TestClient]:
    app = create_app(
        load_settings(web_env),
        lambda change, key: queued.append((change, key)),
        redis_client,
        connect_db=False,
    )
    with TestClient(app) as test_client:
        yield test_client


def signed(body: bytes, secret: str) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256="
        + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


def notification(*changes: tuple[str, str, dict[str, str]]) -> bytes:
    return json.dumps(
        {
            "object": "ad_account",
            "entry": [
                {"id": account, "time": 1700000000, "changes": [{"field": field, "value": value}]}
                for account, field, value in changes
            ],
        }
    ).encode()


def test_changes_to_fields_not_acted_on_are_recorded_without_a_task(
    client: TestClient, env: dict[str, str], queued: list[tuple[Change, str]]
) -> None:
    body = notification(
        ("123", "creative_fatigue", {"ad_id": "7"}),
        ("123", "with_issues_ad_objects", {"id": "9", "level": "AD"}),
    )
    answer = client.post(
        "/webhooks/meta", content=body, headers=signed(body, env["META_APP_SECRET"])
    )
    assert answer.json() == {"received": 2, "queued": 1, "duplicates": 0, "ignored": 1}
    assert [c.field for c, _ in queued] == ["with_issues_ad_objects"]
    ignored = WebhookEvent.objects.get(field="creative_fatigue")
    assert ignored.status == WebhookStatus.IGNORED and "not acted on" in ignored.detail
    assert ignored.processed_at is not None


def test_handshake(client: TestClient) -> None:
    ok = client.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.challenge": "12345", "hub.verify_token": VERIFY},
    )
    assert ok.status_code == 200 and ok.text == "12345"
    bad = client.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "nope"},
    )
    assert bad.status_code == 403 and "verify token" in bad.text


def test_signed_changes_are_queued_once_each(
    client: TestClient, env: dict[str, str], queued: list[tuple[Change, str]]
) -> None:
    body = notification(
        ("123", "with_issues_ad_objects", {"id": "9", "level": "AD"}),
        ("456", "in_process_ad_objects", {"id": "8", "level": "CAMPAIGN"}),
    )
    first = client.post(
        "/webhooks/meta", content=body, headers=signed(body, env["META_APP_SECRET"])
    )
    assert first.status_code == 200
    assert first.json() == {"received": 2, "queued": 2, "duplicates": 0, "ignored": 0}
    again = client.post(
        "/webhooks/meta", content=body, headers=signed(body, env["META_APP_SECRET"])
    )
    assert again.json() == {"received": 2, "queued": 0, "duplicates": 2, "ignored": 0}
    assert [c.account_id for c, _ in queued] == ["123", "456"]
    events = WebhookEvent.objects.order_by("account_id")
    assert [(e.account_id, e.status) for e in events] == [
        ("123", WebhookStatus.QUEUED),
        ("456", WebhookStatus.QUEUED),
    ]


@pytest.mark.parametrize(
    ("headers", "status"), [({}, 401), ({"X-Hub-Signature-256": "sha256=00"}, 403)]
)
def test_unsigned_or_badly_signed_posts_are_refused(
    client: TestClient, headers: dict[str, str], status: int, queued: list[tuple[Change, str]]
) -> None:
    body = notification(("123", "with_issues_ad_objects", {"id": "9", "level": "AD"}))
    response = client.post("/webhooks/meta", content=body, headers=headers)
    assert response.status_code == status and "error" in response.json()
    assert queued == []


def test_malformed_json_and_oversized_bodies(client: TestClient, env: dict[str, str]) -> None:
    body = b"{not json"
    bad = client.post("/webhooks/meta", content=body, headers=signed(body, env["META_APP_SECRET"]))
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
    huge = b"x" * (MAX_BODY_BYTES + 1)
    assert client.post("/webhooks/meta", content=huge).status_code == 413


def test_a_change_that_cannot_be_queued_is_not_marked_seen(
    web_env: dict[str, str], redis_client: redis.Redis, env: dict[str, str]
) -> None:
    def broken(change: Change, key: str) -> None:
        raise ConnectionError("broker down")

    app = create_app(load_settings(web_env), broken, redis_client, connect_db=False)
    body = notification(("123", "with_issues_ad_objects", {"id": "9", "level": "AD"}))
    with TestClient(app, raise_server_exceptions=False) as failing:
        answer = failing.post(
            "/webhooks/meta", content=body, headers=signed(body, env["META_APP_SECRET"])
        )
    assert answer.status_code == 503
    key = Change("123", 1700000000, "with_issues_ad_objects", {"id": "9", "level": "AD"}).dedupe_key
    assert redis_client.exists(f"{web_env['REDIS_KEY_PREFIX']}webhook:{key}") == 0


def test_healthz(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"redis": True, "mongodb": True}


def test_the_app_needs_a_verify_token(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="META_APP_VERIFY_TOKEN"):
        create_app(load_settings(env), lambda change, key: None, connect_db=False)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400).map(str.encode),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["object", "entry", "id", "time", "changes", "field", "value"]),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_hostile_signed_bodies_never_get_a_5xx(
    client: TestClient, env: dict[str, str], body: bytes
) -> None:
    answer = client.post(
        "/webhooks/meta", content=body, headers=signed(body, env["META_APP_SECRET"])
    )
    assert answer.status_code in (200, 400)


def test_openapi_schema_holds_under_schemathesis(web_env: dict[str, str], tmp_path: Path) -> None:
    """schemathesis against the running ``metasync web``: no 5xx, answers match the schema;
    the REST API is called with a tenant's key over that tenant's mirror."""
    build_tenant("acme", 1)
    _, key = create_key("acme", scopes=("sync", "optimize", "leads", "lead_answers"))
    unmetered = {"API_BURST": "100000", "API_REQUESTS_PER_MINUTE": "100000"}
    web = start_web({**web_env, **unmetered}, tmp_path / "web.log")
    try:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file",
                str(Path(__file__).parents[2] / "schemathesis.toml"),
                "run",
                f"{web.url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                "30",
                "--header",
                f"Authorization: Bearer {key}",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        )
    finally:
        web.stop()
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
    total = re.search(r"Operations:\s+\d+ selected / (\d+) total", result.stdout)
    assert total is not None and int(total.group(1)) >= 17, result.stdout[:2000]
    assert f"Tested: {total.group(1)}" in result.stdout, "every operation was exercised"


@pytest.mark.parametrize(
    "value",
    [
        "sha256=é" + "0" * 63,  # non-ASCII: hmac.compare_digest raised TypeError (a 500)
        "sha256=" + "zz" * 32,  # not hex
        "sha256=" + "0" * 63,  # too short
        "sha256=" + "0" * 5000,  # oversized
        "md5=" + "0" * 32,  # wrong prefix
        "sha256=",  # empty
    ],
)
def test_every_malformed_signature_header_is_a_4xx(
    client: TestClient, value: str, queued: list[tuple[Change, str]]
) -> None:
    body = notification(("123", "with_issues_ad_objects", {"id": "9", "level": "AD"}))
    header = value.encode("latin-1")  # as a client may send it: raw bytes, not ASCII
    response = client.post("/webhooks/meta", content=body, headers={"X-Hub-Signature-256": header})  # type: ignore[dict-item]
    assert response.status_code in (401, 403), response.text
    assert "error" in response.json()
    assert queued == []
