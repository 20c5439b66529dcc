"""The console in a real headless Chromium (Selenium, Debian's chromium and chromium-driver),
against ``metasync web``, real workers and the sandbox: log in, see an account whose mirror
stopped four days ago (as after days of failed syncs) flagged lagging, press "Sync now", and
watch the flag clear as the overview refreshes itself. The run saves a screenshot of the
overview (docs/console-overview.png, shown in the README)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from metasync.api.keys import create_key
from metasync.console.auth import hash_password
from metasync.embedded import Workers
from metasync.models import MetaConnection, OperatorAction, SyncRun
from metasync.sandbox.world import WorldSize
from metasync.sync import Period, SyncContext, run_inline
from tests.support.console import login, post_form

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PASSWORD = "browser-test-password"
SCREENSHOT = Path(__file__).parents[2] / "docs" / "console-overview.png"


@pytest.fixture
def world_size() -> WorldSize:
    return WorldSize(
        users=1, accounts_per_user=2, campaigns_per_account=2, adsets_per_campaign=1,
        ads_per_adset=2, days=10,
    )  # fmt: skip


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}"}


def _flags(browser: WebDriver, account: str) -> str:
    row = browser.find_element(By.CSS_SELECTOR, f'tr.account[data-account="{account}"]')
    return row.get_attribute("data-flags") or ""


def test_log_in_see_a_lagging_account_sync_it_and_watch_the_lag_clear(
    ctx: SyncContext,
    connections: list[MetaConnection],
    workers: Workers,
    web_url: str,
    browser: WebDriver,
) -> None:
    [connection] = connections
    run_inline(ctx, str(connection.pk), full=True)
    today = date.today()
    stale = Period(since=today - timedelta(days=9), until=today - timedelta(days=4))
    run_inline(ctx, str(connection.pk), kind="performance", period=stale)
    account = connection.ad_account_ids[0]
    wait = WebDriverWait(browser, 30)

    browser.get(f"{web_url}/console")
    assert browser.find_elements(By.ID, "login"), "without a session the console shows the login"
    browser.find_element(By.ID, "username").send_keys("ops")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "accounts")))
    assert "lagging" in _flags(browser, account).split()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))

    browser.find_element(By.CSS_SELECTOR, f'tr.account[data-account="{account}"] a').click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sync-now"))).click()
    notice = wait.until(expected_conditions.presence_of_element_located((By.ID, "notice")))
    assert "performance sync queued" in notice.text
    action = OperatorAction.objects.get(action="sync", target=str(connection.pk))
    assert action.by == "ops"
    deadline = time.monotonic() + 120
    while not SyncRun.objects(trigger="console", status="succeeded").count():
        failed = SyncRun.objects(trigger="console", status="failed").first()
        assert failed is None, failed.errors
        assert time.monotonic() < deadline, "the console's sync did not finish"
        time.sleep(0.5)

    browser.get(f"{web_url}/console")  # the overview refreshes itself every 5 s from here on
    WebDriverWait(browser, 30).until(
        lambda b: "lagging" not in _flags(b, account).split(), "the lag did not clear"
    )


def test_an_api_sync_request_and_a_console_token_refresh_go_through_the_workers(
    connections: list[MetaConnection], workers: Workers, web_url: str
) -> None:
    [connection] = connections
    _, key = create_key(connection.tenant_id, "e2e", scopes=("sync",))
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    asked = api.post(f"{web_url}/api/v1/syncs", json={"connection_id": str(connection.pk)})
    assert asked.status_code == 202, asked.text
    request_id = asked.json()["request_id"]
    deadline = time.monotonic() + 90
    while (status := api.get(f"{web_url}/api/v1/syncs/{request_id}").json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "succeeded" and status["kind"] == "entities", status
    assert status["entities"].get("ads", 0) > 0
    other = requests.get(f"{web_url}/api/v1/syncs/{request_id}", timeout=10)
    assert other.status_code == 401, "no key, no status"

    console = requests.Session()
    logged_in = login(console, PASSWORD, base=web_url, origin=web_url)
    assert logged_in.status_code == 303, logged_in.text
    before = MetaConnection.objects.get(pk=connection.pk).token_expires_at
    time.sleep(1.1)  # the sandbox's new expiry is a second later at least
    account = connection.ad_account_ids[0]
    refreshed = post_form(
        console, f"/console/connections/{connection.pk}/refresh-token",
        {"account_id": account}, f"/console/accounts/{connection.pk}/{account}",
        base=web_url, origin=web_url, timeout=10,
    )  # fmt: skip
    assert refreshed.status_code == 200 and "token refresh queued" in refreshed.text
    deadline = time.monotonic() + 60
    while MetaConnection.objects.get(pk=connection.pk).token_expires_at == before:
        assert time.monotonic() < deadline, "the token was not exchanged"
        time.sleep(0.3)
    assert OperatorAction.objects.get(action="refresh_token").by == "ops"
