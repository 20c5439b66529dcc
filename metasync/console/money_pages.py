"""The console's money: spend, results and cost per result on the overview and the account
page, the report page (``/console/reports/{connection}/{account}``) and the open alerts
(``/console/alerts``).

Figures are gathered by :mod:`metasync.console.figures`, :mod:`metasync.console.report_page`
and :mod:`metasync.console.alerts_page`; money is written by :mod:`metasync.console.money`.
Every page here is a GET behind the console's login; none acts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import redis
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from metasync.console.alerts_page import account_alerts, open_alerts, open_count
from metasync.console.figures import (
    account_figures,
    campaign_figures,
    period_figures,
    tenant_totals,
)
from metasync.console.login import Gate
from metasync.console.money import money
from metasync.console.pages import CHART_DAYS
from metasync.console.report_page import period, report_page
from metasync.health.compute import AccountHealth
from metasync.health.pages import one_health
from metasync.keys import RedisKeys
from metasync.models import find_connection, utcnow

__all__ = ["account_money", "add_money_routes", "every_day", "money_context", "money_label"]

PageRenderer = Callable[[Request, str, Mapping[str, Any], int], Response]
LoginForm = Callable[[Request], Response]
Day = Annotated[str, Query(max_length=10)]
Name = Annotated[str, Query(max_length=200)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def money_label(currency: str | None) -> Callable[[float], str]:
    """A chart's value label: the amount in ``currency``, as the rest of the page writes it."""
    return lambda value: money(value, currency)


def every_day(points: list[tuple[str, float]], since: str, until: str) -> list[tuple[str, float]]:
    """``points`` with a 0 for each day of ``since``..``until`` that has none, so a chart's
    bars stand at their days and a day without spend shows as one."""
    known = dict(points)
    first, last = date.fromisoformat(since), date.fromisoformat(until)
    days = ((first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1))
    return [(day, known.get(day, 0.0)) for day in days]


def money_context(accounts: Iterable[AccountHealth], full: bool) -> dict[str, Any]:
    """The overview's figures: each account's, and (``full``: the whole page, not its 5-second
    refresh) the totals of the tenants on the page."""
    shown = list(accounts)
    now = utcnow()
    if not full:
        return {"figures": account_figures(shown, now)}
    return {
        "figures": account_figures(shown, now),
        "totals": tenant_totals({h.tenant_id for h in shown}, now),
        "open_alerts": open_count(),
    }


def account_money(health: AccountHealth) -> dict[str, Any]:
    """The account page's period (the chart's days), its totals, its campaigns' figures, and
    its open alerts."""
    today = date.today()
    since, until = (today - timedelta(days=CHART_DAYS)).isoformat(), today.isoformat()
    return {
        "period": (since, until),
        "period_total": period_figures(health.tenant_id, health.account_id, since, until),
        "campaigns": campaign_figures(health.tenant_id, health.account_id, since, until),
        "alerts": account_alerts(health.connection_id, health.account_id),
    }


def add_money_routes(
    router: APIRouter,
    gate: Gate,
    page: PageRenderer,
    login_form: LoginForm,
    client: redis.Redis | None,
    keys: RedisKeys,
) -> None:
    """Add ``GET /console/alerts`` and ``GET /console/reports/{connection}/{account}``."""

    def logged_in(request: Request) -> bool:
        return gate.session(request) is not None

    @router.get("/alerts", response_class=HTMLResponse)
    def alerts(request: Request) -> Response:
        if not logged_in(request):
            return login_form(request)
        return page(request, "alerts.html", {"alerts": open_alerts()}, 200)

    @router.get("/reports/{connection_id}/{account_id}", response_class=HTMLResponse)
    def reports(
        request: Request,
        connection_id: str,
        account_id: str,
        report: Name = "",
        since: Day = "",
        until: Day = "",
        page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    ) -> Response:
        if not logged_in(request):
            return login_form(request)
        connection = find_connection(connection_id)
        health = one_health(client, keys, connection_id, account_id) if connection else None
        if health is None:
            return page(request, "base.html", {}, 404)
        try:
            first, last = period(since or None, until or None, date.today())
        except ValueError as exc:
            return Response(f"since/until: {exc} (days are YYYY-MM-DD)", status_code=400)
        found = report_page(health.tenant_id, account_id, report or None, first, last, page_number)
        query = {"report": found.report or "", "since": first, "until": last}
        context = {"h": health, "found": found, "query": urlencode(query)}
        return page(request, "report.html", context, 200)
