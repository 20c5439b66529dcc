"""The console's money in a real headless Chromium against ``metasync web``: log in, read
each account's spend in its own currency on the overview, open an account and see a chart
that fills the page's width with every label inside it and the period's totals, then open its
report page. Each page's screenshot is checked: a PNG of the window's size that is not blank,
and the chart's own screenshot as wide as the chart is on the page."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from metasync.console.auth import hash_password
from tests.support.money_mirror import JPY_ACCOUNT, build_money_tenant

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PASSWORD = "browser-test-password"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, "CONSOLE_USERS": f"ops:{hash_password(PASSWORD)}"}


def _png(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values of the image's pixels (a blank
    page has two or three: the row filters and one colour)."""
    assert data.startswith(PNG), "a PNG"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += length + 12
    pixels = zlib.decompress(b"".join(chunks))
    return width, height, len(set(pixels))


def _screenshot(browser: WebDriver, path: Path) -> tuple[int, int, int]:
    assert browser.save_screenshot(str(path))
    width, height, colours = _png(path.read_bytes())
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    assert (width, height) == tuple(inner), ((width, height), inner)
    assert colours > 20, f"{path.name} is blank"
    return width, height, colours


def _box(browser: WebDriver, script: str) -> dict[str, float]:
    box: dict[str, float] = browser.execute_script(
        f"const r = {script}.getBoundingClientRect();"
        "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width};"
    )
    return box


def test_overview_account_and_report_pages_show_money_in_a_browser(
    mongo: str, web_url: str, browser: WebDriver, tmp_path: Path
) -> None:
    acme = build_money_tenant()
    wait = WebDriverWait(browser, 30)
    browser.get(f"{web_url}/console")
    browser.find_element(By.ID, "username").send_keys("ops")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "accounts")))

    usd = browser.find_element(By.CSS_SELECTOR, f'tr.account[data-account="{acme.account_id}"]')
    assert usd.find_element(By.CSS_SELECTOR, "td.yesterday .spend").text == "$12.34"
    assert usd.find_element(By.CSS_SELECTOR, "td.week .spend").text == "$61.70"
    jpy = browser.find_element(By.CSS_SELECTOR, f'tr.account[data-account="{JPY_ACCOUNT}"]')
    assert jpy.find_element(By.CSS_SELECTOR, "td.yesterday .spend").text == "¥12,345"
    assert "¥4,115 each" in jpy.find_element(By.CSS_SELECTOR, "td.yesterday").text
    totals = browser.find_element(By.ID, "tenant-totals").text
    assert "$61.70" in totals and "¥86,415" in totals
    _screenshot(browser, tmp_path / "overview.png")

    usd.find_element(By.CSS_SELECTOR, "a").click()
    total = wait.until(expected_conditions.presence_of_element_located((By.ID, "period-total")))
    assert "$61.70 spent, 10 results, $6.17 per result" in total.text
    chart = _box(browser, "document.querySelector('#spend-chart svg.chart')")
    main = _box(browser, "document.querySelector('main')")
    assert chart["width"] >= 0.9 * main["width"] and chart["width"] > 1000, (chart, main)
    labels = browser.execute_script(
        "return [...document.querySelectorAll('#spend-chart svg.chart text')].map(t => {"
        "const r = t.getBoundingClientRect();"
        "return {text: t.textContent, left: r.left, right: r.right, top: r.top,"
        " bottom: r.bottom}; })"
    )
    assert any(label["text"] == "$12.34" for label in labels), labels
    for label in labels:
        assert chart["left"] <= label["left"] and label["right"] <= chart["right"], label
        assert chart["top"] <= label["top"] and label["bottom"] <= chart["bottom"], label
    element = browser.find_element(By.CSS_SELECTOR, "#spend-chart svg.chart")
    browser.execute_script("arguments[0].scrollIntoView()", element)
    drawn = element.screenshot_as_png
    (tmp_path / "chart.png").write_bytes(drawn)
    width, height, colours = _png(drawn)
    assert abs(width - chart["width"]) <= 2 and colours > 5, (width, chart)
    assert abs(height - (chart["bottom"] - chart["top"])) <= 2, "the whole chart, top label too"
    campaigns = browser.find_element(By.ID, "campaigns").text
    assert "Sale" in campaigns and "$61.70" in campaigns
    _screenshot(browser, tmp_path / "account.png")

    browser.find_element(By.ID, "report-link").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "report-rows")))
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.report-row")
    assert len(rows) == 10, "5 days by 2 countries"
    assert all("$1.50" in row.text and "2 7d click" in row.text for row in rows)
    _screenshot(browser, tmp_path / "report.png")
