"""The recommendations page in a real headless Chromium against ``metasync web`` and the
sandbox: log in, open a tenant's recommendations, press Approve and then Apply, and see the
state change on the page as the ad is paused at Meta, audited as the person logged in. The run
saves a screenshot of the page after the apply and checks it is a real image."""

from __future__ import annotations

import struct
from pathlib import Path
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from metasync.console.auth import hash_password
from metasync.models import AuditEntry, MetaConnection, Recommendation
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext, run_inline
from tests.support.sandbox import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PASSWORD = "browser-test-password"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def world_size() -> WorldSize:
    return WorldSize(
        users=1,
        accounts_per_user=1,
        campaigns_per_account=2,
        adsets_per_campaign=1,
        ads_per_adset=2,
        days=2,
    )


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}"}


def _state(browser: WebDriver, ident: str) -> str:
    row = browser.find_element(By.ID, f"rec-{ident}")
    return row.find_element(By.CLASS_NAME, "state").text


def test_approve_and_apply_from_the_page_in_a_browser(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    web_url: str,
    browser: WebDriver,
    tmp_path: Path,
) -> None:
    [connection] = connections
    run_inline(ctx, str(connection.pk))
    ad = next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] == connection.ad_account_ids[0] and a["effective_status"] == "ACTIVE"
    )
    ident = str(
        Recommendation(
            tenant_id=connection.tenant_id,
            key="browser",
            account_id=connection.ad_account_ids[0],
            level="ad",
            entity_id=ad["id"],
            rule="cost",
            kind="cost_per_conversion",
            action="pause",
            change={"status": "PAUSED"},
        )
        .save()
        .pk
    )
    wait = WebDriverWait(browser, 60)

    browser.get(f"{web_url}/console/recommendations?tenant={quote(connection.tenant_id)}")
    browser.find_element(By.ID, "username").send_keys("ops")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, f"rec-{ident}")))
    assert _state(browser, ident) == "proposed"
    assert ad["name"] in browser.find_element(By.ID, f"rec-{ident}").text

    browser.find_element(By.ID, f"approve-{ident}").click()
    wait.until(lambda b: "approved by console:ops" in b.find_element(By.ID, "notice").text)
    assert _state(browser, ident) == "approved"
    browser.find_element(By.ID, f"apply-{ident}").click()
    wait.until(lambda b: "applied: written to Meta" in b.find_element(By.ID, "notice").text)
    assert _state(browser, ident) == "applied"
    assert browser.find_elements(By.ID, f"undo-{ident}"), "an applied one can be undone"
    assert world.get(ad["id"], fields="status").json()["status"] == "PAUSED"
    assert AuditEntry.objects.get(recommendation_id=ident, action="apply").by == "console:ops"

    shot = tmp_path / "console-recommendations.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert data.startswith(PNG) and width >= 800 and height >= 400, (len(data), width, height)
