"""The console's defences in a real headless Chromium (Selenium, Debian's chromium and
chromium-driver) against ``metasync web``: the login flow lands where the person was going
(from the page "Log out" lands on, after a mistyped password, from a deep link), a form on
another origin of the same site (another port) cannot act with the operator's session, and
another page cannot frame the console."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from metasync.console.auth import hash_password
from metasync.models import MetaConnection, OperatorAction
from metasync.sandbox.world import WorldSize

PASSWORD = "browser-security-password"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}"}


@pytest.fixture
def world_size() -> WorldSize:
    return WorldSize(users=1, accounts_per_user=1, campaigns_per_account=1,
                     adsets_per_campaign=1, ads_per_adset=1, days=3)  # fmt: skip


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain web server on another port of the same host: the same site, another origin."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None: ...

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def _log_in(browser: WebDriver, password: str) -> None:
    browser.find_element(By.ID, "username").clear()
    browser.find_element(By.ID, "username").send_keys("ops")
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "login").click()


def test_login_lands_where_going_and_other_origins_can_neither_act_nor_frame(
    connections: list[MetaConnection],
    web_url: str,
    browser: WebDriver,
    other_origin: tuple[str, Path],
) -> None:
    [connection] = connections
    account = connection.ad_account_ids[0]
    wait = WebDriverWait(browser, 20)
    assert web_url.startswith("http://127.0.0.1:")

    browser.get(f"{web_url}/console/login")  # where "Log out" lands
    _log_in(browser, "a mistyped password")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "login-error")))
    _log_in(browser, PASSWORD)
    wait.until(expected_conditions.presence_of_element_located((By.ID, "accounts")))
    assert browser.current_url == f"{web_url}/console", "the overview, not the login form"

    browser.find_element(By.ID, "logout").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "login")))
    deep = f"{web_url}/console/accounts/{connection.pk}/{account}"
    browser.get(deep)
    _log_in(browser, PASSWORD)
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sync-now")))
    assert browser.current_url == deep, "the page asked for"

    elsewhere, folder = other_origin
    (folder / "pause.html").write_text(
        f'<form id="f" method="post" action="{web_url}/console/connections/{connection.pk}/pause">'
        f'<input name="account_id" value="{account}"></form>'
        '<script>document.getElementById("f").submit()</script>'
    )
    browser.get(f"{elsewhere}/pause.html")
    wait.until(lambda b: b.current_url.startswith(web_url))
    time.sleep(1)
    assert "403" in browser.page_source or "origin" in browser.page_source.lower()
    assert MetaConnection.objects.get(pk=connection.pk).status == "ACTIVE", "not paused"
    assert not OperatorAction.objects(action="pause").count()

    (folder / "frame.html").write_text(f'<iframe id="console" src="{web_url}/console"></iframe>')
    browser.get(f"{elsewhere}/frame.html")
    time.sleep(2)
    browser.switch_to.frame(browser.find_element(By.ID, "console"))
    framed = browser.find_elements(By.ID, "accounts") + browser.find_elements(By.ID, "login")
    browser.switch_to.default_content()
    assert framed == [], "the console does not render inside another page"
