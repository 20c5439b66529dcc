"""The console's money through the app on the real MongoDB-wire server: spend, results and cost
per result per account (yesterday and 7 days, in the account's currency, major units) and per
tenant in its reporting currency; the account page's chart, period totals and campaigns; the
report page; and open alerts with their reason and fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from metasync.health.records import refresh_health
from metasync.models import (
    AlertState,
    Campaign,
    ConnectionStatus,
    DailyInsight,
    FxRate,
    MetaConnection,
    Recommendation,
    ReportRow,
    TenantSettings,
    breakdown_key,
    utcnow,
)
from tests.integration.api.conftest import PASSWORD
from tests.support.api_mirror import TenantMirror
from tests.support.console import login
from tests.support.money_mirror import build_money_tenant, last_days

YESTERDAY = date.today() - timedelta(days=1)


@pytest.fixture
def acme(mongo: str) -> TenantMirror:
    return build_money_tenant()


def _row(page: str, account: str) -> str:
    found = re.search(rf'<tr class="account" data-account="{account}".*?</tr>', page, re.S)
    assert found is not None, f"a row for {account}"
    return found.group(0)


def _cell(row: str, name: str) -> str:
    found = re.search(rf'<td class="money {name}">(.*?)</td>', row, re.S)
    assert found is not None, name
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_the_overview_shows_each_accounts_money_in_its_currency(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    client = make_client()
    login(client, PASSWORD)
    page = client.get("/console").text
    usd = _row(page, acme.account_id)
    assert _cell(usd, "yesterday") == "$12.34 2 results · $6.17 each"
    assert _cell(usd, "week") == "$61.70 10 results · $6.17 each", "5 days of rows"
    jpy = _row(page, "909")
    assert _cell(jpy, "yesterday") == "¥12,345 3 results · ¥4,115 each"
    assert _cell(jpy, "week") == "¥86,415 21 results · ¥4,115 each", "7 of its 8 days"
    assert "acme tokyo" in jpy and "909" in jpy, "the name beside the id"
    table = client.get("/console/overview/table").text
    assert _cell(_row(table, "909"), "week").startswith("¥86,415"), "and on every refresh"
    assert "minor" not in page
    # no reporting currency: one total per currency, and how to set one
    assert "$61.70" in page.split('id="tenant-totals"')[1].split("</table>")[0]
    assert "acme has no reporting currency" in page
    assert "JPY accounts</span></td><td>1</td>" in page, "the accounts of each currency"


def test_tenant_totals_in_the_reporting_currency_at_each_days_rate(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    TenantSettings(tenant_id="acme", reporting_currency="EUR").save()
    for day in last_days(8):
        FxRate(date=day, currency="USD", per_euro=Decimal("1.25")).save()
        FxRate(date=day, currency="JPY", per_euro=Decimal("160")).save()
    client = make_client()
    login(client, PASSWORD)
    page = client.get("/console").text
    totals = page.split('id="tenant-totals"')[1].split("</table>")[0]
    # yesterday: 12.34 / 1.25 = 9.87 EUR and 12,345 / 160 = 77.16 EUR
    assert "€87.03" in totals, totals
    # 7 days: 5 x 9.87 + 7 x 77.16
    assert "€589.47" in totals, totals
    assert "in EUR" in totals and "no reporting currency" not in page
    FxRate.objects(currency="JPY", date=YESTERDAY.isoformat()).delete()
    FxRate.objects(currency="JPY", date__lt=YESTERDAY.isoformat()).delete()
    totals = client.get("/console").text.split('id="tenant-totals"')[1].split("</table>")[0]
    assert "€49.35" in totals, "the yen days without a rate are left out"
    assert "not in the totals" in totals and "JPY" in totals, "and said so"


def test_the_account_page_has_a_full_width_chart_period_totals_and_campaigns(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    Recommendation(
        tenant_id="acme",
        key="budget",
        account_id=acme.account_id,
        level="adset",
        entity_id=acme.adset_id,
        rule="r",
        kind="return_on_spend",
        action="set_budget",
        change={"daily_budget": 1250},
    ).save()
    client = make_client()
    login(client, PASSWORD)
    page = client.get(f"/console/accounts/{acme.connection_id}/{acme.account_id}").text
    total = re.sub(r"<[^>]+>", "", page.split('id="period-total">')[1].split("</p>")[0])
    assert "$61.70 spent, 10 results, $6.17 per result" in total
    svg = page.split('<svg class="chart"')[1].split("</svg>")[0]
    assert 'width="' not in svg.split(">")[0], "no fixed width: the chart fills the page"
    labels = [float(y) for y in re.findall(r'<text class="axis" x="4" y="([\d.]+)"', svg)]
    assert labels and min(labels) >= 14, "the top value's label is inside the drawing"
    assert ">$12.34</text>" in svg, "the largest day's spend, in money"
    assert svg.count("<rect") == 31, "a bar for each of the 31 days, 0 where none was spent"
    campaigns = page.split('id="campaigns"')[1].split("</table>")[0]
    assert "Sale" in campaigns and acme.campaign_id in campaigns and "$61.70" in campaigns
    assert "daily budget: $12.50" in page, "a budget in major units with its currency"
    assert "1250" not in page.split("Optimizer recommendations")[1]


def test_the_report_page_lists_an_enabled_reports_rows_for_a_period(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    day = YESTERDAY.isoformat()
    for number in range(60):  # 62 rows on yesterday: two pages
        values = {"country": f"C{number:02d}"}
        ReportRow(
            tenant_id="acme",
            account_id=acme.account_id,
            report="country",
            level="ad",
            entity_id=acme.ad_id,
            span=day,
            date_start=day,
            date_stop=day,
            breakdowns=values,
            breakdown_key=breakdown_key(values),
            impressions=5,
            spend=Decimal("1234.5"),
            currency="USD",
        ).save()
    Campaign.objects(tenant_id="acme").update(set__name="Sale")
    client = make_client()
    login(client, PASSWORD)
    base = f"/console/reports/{acme.connection_id}/{acme.account_id}"
    page = client.get(f"{base}?since={day}&until={day}").text
    assert 'id="report-country"' in page, "each enabled report"
    assert page.count('class="report-row"') == 50 and 'id="next-page"' in page
    assert "$1,234.50" in page and "country: C00" in page
    second = client.get(f"{base}?report=country&since={day}&until={day}&page=2").text
    assert second.count('class="report-row"') == 12 and 'id="next-page"' not in second
    older = (YESTERDAY - timedelta(days=3)).isoformat()
    one_day = client.get(f"{base}?since={older}&until={older}").text
    assert one_day.count('class="report-row"') == 2, "only the period's days"
    assert client.get(f"{base}?since={day}&until={older}").status_code == 400
    assert client.get(f"/console/reports/{acme.connection_id}/nope").status_code == 404
    account = client.get(f"/console/accounts/{acme.connection_id}/{acme.account_id}").text
    assert f'href="{base}"' in account, "the account page links its reports"


def test_open_alerts_say_why_and_what_to_do(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    reason = "the user changed their password (code 190, subcode 460); add a new token"
    MetaConnection.objects(pk=acme.connection_id).update(
        set__status=ConnectionStatus.EXPIRED, set__last_error=reason
    )
    refresh_health("acme")
    key = f"failing:{acme.connection_id}:{acme.account_id}"
    AlertState(
        key=key,
        summary="ad account 101 (acme shop) of tenant acme is failing",
        opened_at=utcnow(),
        announced=True,
    ).save()
    AlertState(
        key="optimizer:acme",
        summary="the optimizer of tenant acme cannot evaluate its rules: rule 'x': target: no GBP",
        opened_at=utcnow(),
    ).save()
    AlertState(key="webhooks", summary="gone", cleared_at=utcnow()).save()
    client = make_client()
    assert client.get("/console/alerts").status_code == 401
    login(client, PASSWORD)
    page = client.get("/console/alerts").text
    assert page.count('class="alert"') == 2, "the open ones only"
    failing = page.split(f'data-key="{key}"')[1].split("</tr>")[0]
    assert "the connection is EXPIRED" in failing and "changed their password" in failing
    assert "metasync connections add --tenant acme" in failing
    assert f"/console/accounts/{acme.connection_id}/{acme.account_id}" in failing
    optimizer = page.split('data-key="optimizer:acme"')[1].split("</tr>")[0]
    assert "metasync rules set --tenant TENANT FILE" in optimizer
    assert "Open alerts (2)</a>" in client.get("/console").text
    account = client.get(f"/console/accounts/{acme.connection_id}/{acme.account_id}").text
    own = account.split('id="account-alerts"')[1].split("</table>")[0]
    assert "changed their password" in own and "metasync connections add" in own
    assert "optimizer" not in own, "only the account's own alerts"


def test_budgets_on_the_recommendations_page_are_in_major_units(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    """Before: the page's "all figures" listed the evidence as stored (``daily_budget:
    1250``, minor units)."""
    Recommendation(
        tenant_id="acme",
        key="reallocate",
        account_id="909",
        level="adset",
        entity_id="a9",
        rule="r",
        kind="budget_reallocation",
        action="reallocate_budget",
        change={"daily_budget": 1000},
        evidence={
            "daily_budget": 1250,
            "to": {"entity_id": "b9", "daily_budget": 500, "daily_budget_after": 750},
        },
    ).save()
    client = make_client()
    login(client, PASSWORD)
    page = client.get("/console/recommendations?tenant=acme").text
    details = next(f for f in page.split("<details>") if "daily_budget" in f)
    figures = details.split("</details>")[0]
    assert "daily_budget: 1,250 JPY" in figures, figures
    assert "to: (entity_id: b9, daily_budget: 500 JPY, daily_budget_after: 750 JPY)" in figures
    assert "1250" not in figures and "{" not in figures, "no minor units, no Python dict"


def test_amounts_in_all_figures_carry_their_currency(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    """Before: the card's "all figures" line said ``spend: 652.93`` with no currency."""
    Recommendation(
        tenant_id="acme",
        key="pause",
        account_id=acme.account_id,
        level="ad",
        entity_id="ad7",
        rule="r",
        kind="cost_per_result",
        action="pause",
        change={"status": "PAUSED"},
        evidence={
            "spend": 652.93,
            "revenue": 10,
            "conversions": 3,
            "target": 40,
            "cost_per_conversion": {"estimate": 217.64, "low": 120.5, "confidence": 0.9},
        },
    ).save()
    client = make_client()
    login(client, PASSWORD)
    page = client.get("/console/recommendations?tenant=acme").text
    details = next(f for f in page.split("<details>") if "spend:" in f)
    figures = details.split("</details>")[0]
    assert "spend: 652.93 USD" in figures and "revenue: 10.00 USD" in figures, figures
    assert "target: 40.00 USD" in figures and "conversions: 3," in figures, figures
    assert "(estimate: 217.64 USD, low: 120.50 USD, confidence: 0.9)" in figures, figures


def test_one_result_is_said_in_the_singular(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    """Before: the overview and the account page said "1 results"."""
    DailyInsight.objects(
        tenant_id="acme", level="account", account_id=acme.account_id, date=last_days(1)[0]
    ).update(set__conversions=Decimal(1))
    client = make_client()
    login(client, PASSWORD)
    page = client.get("/console").text
    assert _cell(_row(page, acme.account_id), "yesterday") == "$12.34 1 result · $12.34 each"
    assert _cell(_row(page, acme.account_id), "week").startswith("$61.70 9 results")
