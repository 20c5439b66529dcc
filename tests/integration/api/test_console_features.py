"""The console shows each account's Ads Insights features as Meta's Feature Settings API states
them (page of that name, 2026-08-07) and enables one after a confirmation, by CSRF-protected
POST, audited as the logged-in user. Against the sandbox, which serves that API."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from metasync.api.keys import create_key
from metasync.models import AccountFeatures, FeatureStatus, MetaConnection, OperatorAction
from metasync.sync import SyncContext
from metasync.sync.token_health import check_tokens
from tests.support.console import ORIGIN, login, post_form
from tests.support.sandbox import Sandbox

from .conftest import PASSWORD


def _row(page: str, feature: str) -> str:
    found = re.search(rf'<tr class="feature" data-feature="{feature}">(.*?)</tr>', page, re.S)
    assert found, page
    return found.group(1)


def test_the_console_shows_features_and_enables_one_after_a_confirmation(
    make_client: Callable[..., TestClient],
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
) -> None:
    connection = connections[0]
    opted = {a.removeprefix("act_") for a in world.user()["opted_in_account_ids"]}
    account = next(a for a in connection.ad_account_ids if a not in opted)
    check_tokens(ctx)  # the daily check reads the features
    client = make_client(
        META_GRAPH_URL=world.url,
        META_ADS_API_URL=world.info["ads_api_url"],
        META_APP_ID=world.info["app_id"],
        META_APP_SECRET=world.info["app_secret"],
    )
    assert login(client, PASSWORD).status_code == 303
    page_path = f"/console/accounts/{connection.pk}/{account}"
    page = client.get(page_path).text
    assert "not enabled" in _row(page, "impression_device")
    assert "Enable impression_device" in _row(page, "impression_device")
    assert "pending" in _row(page, "time_of_day_viewer_tz")
    assert "cannot undo" in page and "24 hours" in page
    action = f"/console/connections/{connection.pk}/enable-feature"
    form = {"account_id": account, "feature": "impression_device"}

    forged = client.post(action, data={**form, "confirm": "yes"}, headers={"Origin": ORIGIN})
    assert forged.status_code == 403  # no CSRF token
    unconfirmed = post_form(client, action, form, page_path, follow_redirects=False)
    assert unconfirmed.status_code == 303
    assert "not done" in unquote(unconfirmed.headers["location"])
    features = AccountFeatures.objects.get(tenant_id=connection.tenant_id, account_id=account)
    assert features.status("impression_device") == FeatureStatus.NOT_ENABLED
    assert OperatorAction.objects.count() == 0

    done = post_form(client, action, {**form, "confirm": "yes"}, page_path, follow_redirects=False)
    assert done.status_code == 303
    assert "impression_device enabled: pending" in unquote(done.headers["location"])
    features.reload()
    assert features.status("impression_device") == FeatureStatus.PENDING
    assert features.enabled_by["impression_device"]["by"] == "ops"
    [audit] = OperatorAction.objects(action="enable_feature")
    assert audit.by == "ops" and audit.details["account_id"] == account
    page = client.get(page_path).text
    assert "pending" in _row(page, "impression_device")
    assert "Enable impression_device" not in page

    world.control("POST", "feature-settings/elapse", {"hours": 24})
    check_tokens(ctx)  # metasync notices at the next daily check
    assert "enabled" in _row(client.get(page_path).text, "impression_device")


def test_the_api_and_metrics_show_the_features_meta_states(
    make_client: Callable[..., TestClient],
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
) -> None:
    connection = connections[0]
    tenant = connection.tenant_id
    opted = {a.removeprefix("act_") for a in world.user()["opted_in_account_ids"]}
    account = next(a for a in connection.ad_account_ids if a not in opted)
    check_tokens(ctx)
    client = make_client(METRICS_PUBLIC="true")
    _, key = create_key(tenant)
    answer = client.get(
        f"/api/v1/accounts/{account}/features", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    states = {f["name"]: f["status"] for f in body["features"]}
    assert states["impression_device"] == "not_enabled"
    assert states["time_of_day_viewer_tz"] == "pending" and body["error"] is None
    _, other = create_key("another-tenant")
    foreign = client.get(
        f"/api/v1/accounts/{account}/features", headers={"Authorization": f"Bearer {other}"}
    )
    assert foreign.status_code == 404  # another tenant's account is not seen
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
    }
    labels = {"tenant": tenant, "feature": "impression_device"}
    enabled = ("metasync_account_features", tuple(sorted({**labels, "status": "enabled"}.items())))
    missing = (
        "metasync_account_features",
        tuple(sorted({**labels, "status": "not_enabled"}.items())),
    )
    assert samples[enabled] == 1.0 and samples[missing] == 1.0
