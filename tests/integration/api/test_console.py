"""The console and /metrics with real MongoDB and Redis (in-process ASGI client): every page
answers 401 without a session, a login opens them, actions are recorded with who took them,
flags follow the mirror, and /metrics needs a console user unless METRICS_PUBLIC=true."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from metasync.config import ConfigurationError, load_settings
from metasync.console.auth import hash_password
from metasync.health.compute import tenant_health
from metasync.health.records import refresh_health
from metasync.models import (
    AccountSyncState,
    Ad,
    DailyInsight,
    MetaConnection,
    OperatorAction,
    ReportAccess,
    ReportAccessState,
    SyncRun,
    utcnow,
)
from tests.integration.api.conftest import PASSWORD
from tests.support.api_mirror import TenantMirror, build_tenant
from tests.support.console import ORIGIN, csrf_of, login, post_form

PAGES = ("/console", "/console/overview/table", "/console/static/htmx.min.js")


@pytest.fixture
def acme(mongo: str) -> TenantMirror:
    return build_tenant("acme", 1)


def _login(client: TestClient, password: str = PASSWORD) -> Any:
    return login(client, password)


def _act(client: TestClient, acme: TenantMirror, action: str, **data: str) -> Any:
    page = f"/console/accounts/{acme.connection_id}/{acme.account_id}"
    return post_form(
        client, f"/console/connections/{acme.connection_id}/{action}",
        {"account_id": acme.account_id, **data}, page, follow_redirects=False,
    )  # fmt: skip


def test_every_page_needs_a_session_and_a_login_opens_them(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    client = make_client()
    account_page = f"/console/accounts/{acme.connection_id}/{acme.account_id}"
    for path in (*PAGES, account_page):
        answer = client.get(path)
        assert answer.status_code == 401, path
    for action in ("sync", "refresh-token", "pause", "resume"):
        answer = client.post(f"/console/connections/{acme.connection_id}/{action}")
        assert answer.status_code == 401, action
    assert OperatorAction.objects.count() == 0
    client.cookies.set("metasync_console", "ops")  # an unsigned cookie is no session
    assert client.get("/console").status_code == 401
    client.cookies.clear()
    assert _login(client, "wrong password").status_code == 401
    assert _login(client).status_code == 303
    for path in (*PAGES, account_page):
        assert client.get(path).status_code == 200, path
    page = client.get("/console").text
    assert acme.account_id in page and "acme" in page
    csrf = csrf_of(page)
    for guessed in ("x" * 24, "0" * 24, "nope"):  # 24 characters that are not an ObjectId too
        assert client.get(f"/console/accounts/{guessed}/{acme.account_id}").status_code == 404
        answer = client.post(f"/console/connections/{guessed}/pause", follow_redirects=False,
                             data={"csrf": csrf}, headers={"Origin": ORIGIN})  # fmt: skip
        assert answer.status_code == 404, guessed
    assert "expiring" in page, "the token ends in 3 days"


def test_flags_follow_the_mirror_and_actions_are_recorded(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    client = make_client()
    _login(client)
    row = client.get("/console/overview/table").text
    assert "flag-lagging" not in row, "yesterday is mirrored"
    DailyInsight.objects(tenant_id="acme", level="account").delete()
    old = (date.today() - timedelta(days=4)).isoformat()
    DailyInsight(tenant_id="acme", account_id=acme.account_id, level="account",
                 entity_id=acme.account_id, date=old, spend=Decimal(1)).save()  # fmt: skip
    AccountSyncState(connection_id=acme.connection_id, account_id=acme.account_id,
                     tenant_id="acme", last_outcome="failed",
                     last_performance_sync_at=utcnow()).save()  # fmt: skip
    refresh_health("acme")  # as the run that wrote them does when it closes
    flagged = client.get("/console?flag=lagging").text
    assert acme.account_id in flagged and "flag-failing" in flagged
    assert acme.account_id in client.get("/console?flag=failing").text
    MetaConnection.objects(pk=acme.connection_id).update(set__token_expires_at=None)
    refresh_health("acme")
    assert "no accounts flagged expiring" in client.get("/console?flag=expiring").text
    synced = _act(client, acme, "sync", kind="performance", since="2026-11-01",
                  until="2026-11-03")  # fmt: skip
    assert synced.status_code == 303 and "queued" in synced.headers["location"]
    _act(client, acme, "pause")
    assert MetaConnection.objects.get(pk=acme.connection_id).status == "PAUSED"
    refused = _act(client, acme, "sync")
    assert "not%20done" in refused.headers["location"], "a paused connection is not synced"
    _act(client, acme, "resume")
    assert MetaConnection.objects.get(pk=acme.connection_id).status == "ACTIVE"
    actions = [(a.action, a.by) for a in OperatorAction.objects.order_by("at")]
    assert actions == [("sync", "ops"), ("pause", "ops"), ("resume", "ops")]
    page = client.get(f"/console/accounts/{acme.connection_id}/{acme.account_id}").text
    assert 'class="chart"' in page and "operator-action" in page
    assert 'class="recommendation"' in page and "cost_per_conversion" in page


SCRAPE_TOKEN = "a-scrape-token-of-the-test"
SCRAPE = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}


def test_metrics_need_the_scrape_token_unless_public(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    SyncRun(connection_id=acme.connection_id, tenant_id="acme", kind="performance",
            status="failed", finished_at=utcnow(), rows={"ad": 7}, api_calls=5,
            errors=[{"code": 80000, "message": "too many calls"}]).save()  # fmt: skip
    client = make_client(METRICS_TOKEN=SCRAPE_TOKEN)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", auth=("ops", PASSWORD)).status_code == 401, "not a login"
    wrong = {"Authorization": f"Bearer {SCRAPE_TOKEN}x"}
    assert client.get("/metrics", headers=wrong).status_code == 401
    answer = client.get("/metrics", headers=SCRAPE)
    assert answer.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, tuple(sorted(labels.items()))))

    ids = {"tenant": "acme", "connection": acme.connection_id}
    account = {**ids, "account": acme.account_id}
    lag = value("metasync_freshness_lag_seconds", **account)
    assert lag is not None and 0 < lag < 86_400, "yesterday is mirrored: under a day"
    assert value("metasync_account_flag", **account, flag="expiring") == 1.0
    expiry = value("metasync_token_expiry_seconds", **ids)
    assert expiry is not None and 2 * 86_400 < expiry <= 3 * 86_400
    assert value("metasync_last_run_success", **ids, kind="performance") == 0.0
    assert value("metasync_rows_written_24h", tenant="acme", level="ad") == 7.0
    assert value("metasync_throttling_errors_24h", tenant="acme") == 1.0
    assert value("metasync_api_calls_24h", tenant="acme") == 5.0
    assert value("metasync_throttled_seconds", **account) == 0.0
    assert make_client(METRICS_PUBLIC="true").get("/metrics").status_code == 200


def test_console_users_are_validated(web_env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="CONSOLE_USERS"):
        load_settings({**web_env, "CONSOLE_USERS": "ops:plaintext-password"})
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")


def test_an_account_out_of_date_for_weeks_still_has_its_lag(acme: TenantMirror) -> None:
    DailyInsight.objects(tenant_id="acme", level="account").delete()
    old = (date.today() - timedelta(days=40)).isoformat()
    DailyInsight(tenant_id="acme", account_id=acme.account_id, level="account",
                 entity_id=acme.account_id, date=old, spend=Decimal(1)).save()  # fmt: skip
    [health] = tenant_health(["acme"])
    assert health.newest_day == old, "found past the recent days the aggregation reads"
    assert health.lag_seconds is not None and health.lag_seconds > 39 * 86_400
    assert "lagging" in health.flags


def test_the_account_page_shows_withheld_reports_and_why_ads_were_disapproved(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    """Before: an account without Meta's breakdown opt-in looked like one without delivery,
    and a disapproved ad showed no reason."""
    ReportAccess(
        tenant_id="acme", account_id=acme.account_id, report="placement_device",
        state=ReportAccessState.NOT_OPTED_IN, delivered_impressions=4321,
        checked_since="2026-11-01", checked_until="2026-11-03",
    ).save()  # fmt: skip
    Ad.objects(tenant_id="acme", meta_id=acme.ad_id).update(
        set__effective_status="DISAPPROVED",
        set__ad_review_feedback={"global": {"Misleading claims": "Ads may not <b>mislead</b>."}},
    )
    refresh_health("acme")
    client = make_client(METRICS_TOKEN=SCRAPE_TOKEN)
    _login(client)
    page = client.get(f"/console/accounts/{acme.connection_id}/{acme.account_id}").text
    assert 'class="not-opted-in"' in page and "placement_device" in page
    assert "not opted in" in page and "4321 impressions" in page
    assert 'class="disapproved"' in page and "Misleading claims" in page
    assert "&lt;b&gt;mislead&lt;/b&gt;" in page  # Meta's text is escaped
    metrics = client.get("/metrics", headers=SCRAPE).text
    assert (
        'metasync_report_not_opted_in_accounts{report="placement_device",tenant="acme"} 1.0'
        in metrics
    )


def test_the_pages_name_things_and_label_their_figures(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    """Before: connections by 24-character id, recommendations by entity id, charts without
    axis values or currency, unlabelled date fields, "0h 00m ago"."""
    Ad.objects(tenant_id="acme", meta_id=acme.ad_id).update(set__name="Winter boots, video")
    MetaConnection.objects(pk=acme.connection_id).update(unset__name=True)
    refresh_health("acme")
    OperatorAction(tenant_id="acme", action="sync", target=acme.connection_id, by="ops").save()
    client = make_client()
    _login(client)
    overview = client.get("/console").text
    assert "Meta user u1" in overview and f">{acme.connection_id} " not in overview
    page = client.get(f"/console/accounts/{acme.connection_id}/{acme.account_id}").text
    assert "<strong>Winter boots, video</strong>" in page, "the ad by name"
    assert 'class="axis"' in page and ">$12.34</text>" in page, "axis values in the currency"
    assert "Spend per day (USD)" in page
    for field in ("sync-since", "sync-until", "sync-kind"):
        assert f'<label for="{field}">' in page and f'id="{field}"' in page
    assert "just now" in page and "0h 00m ago" not in page
