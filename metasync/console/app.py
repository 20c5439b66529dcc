"""``/console``: server-rendered pages (Jinja2, htmx for the overview's refresh), behind a login.

Every page but the login form answers 401 (with that form) without a valid session; the
webhook endpoint stays public and the console never is. Actions (sync now, refresh token,
pause, resume) are POSTs, each recorded as an :class:`~metasync.models.OperatorAction` with
the user who took it. The session cookie is ``SameSite=Strict`` and HTTP-only, so another
site cannot make a logged-in browser post an action.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import redis
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from metasync.api.routes import SyncRequester
from metasync.config import Settings
from metasync.console.charts import bar_chart
from metasync.console.exports import exports_page, tenant_exports
from metasync.console.leads_page import LEADS_NOT_GRANTED_FIX, tenant_leads
from metasync.console.login import Gate, add_login_routes
from metasync.console.money import budget, cost_per_result, money
from metasync.console.money_pages import (
    account_money,
    add_money_routes,
    every_day,
    money_context,
    money_label,
)
from metasync.console.pages import FLAGS, account_page, overview
from metasync.console.recommendation_routes import add_recommendation_routes
from metasync.graph import MetaAPIError
from metasync.health.records import keep_health
from metasync.keys import RedisKeys
from metasync.models import (
    ConnectionStatus,
    MetaConnection,
    OperatorAction,
    aware,
    find_connection,
    utcnow,
)
from metasync.sync.context import SyncContext
from metasync.sync.features import enable_feature

__all__ = ["console_router"]

HERE = Path(__file__).parent
STATIC = {"htmx.min.js": "text/javascript", "console.css": "text/css"}
PUBLIC_STATIC = {"console.css"}  # the login form is styled before anyone logs in
TokenRefresher = Callable[[str], str]  # connection id -> request id
Search = Annotated[str, Query(max_length=200)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
PageNumberAlias = Annotated[int, Query(alias="page", ge=1, le=100_000)]  # beside page()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h {rest // 60:02d}m"


def _ago(moment: datetime | None, now: datetime) -> str:
    moment = aware(moment)
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    return "just now" if seconds < 60 else f"{_duration(seconds)} ago"


def _countdown(moment: datetime | None, now: datetime) -> str:
    moment = aware(moment)
    if moment is None:
        return "never"
    left = (moment - now).total_seconds()
    return f"in {_duration(left)}" if left > 0 else f"{_duration(-left)} ago"


def _plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is one: ``1 result``,
    ``0 results``, ``2 results`` (English nouns the console counts take a plain ``s``)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(
        duration=_duration,
        ago=_ago,
        countdown=_countdown,
        dictsum=lambda d: sum(v for v in (d or {}).values() if isinstance(v, int | float)),
        dictitems=lambda d: ", ".join(f"{k}: {v}" for k, v in (d or {}).items()),
        money=money,
        budget=budget,
        cpr=cost_per_result,
        plural=_plural,
    )
    return templates


def console_router(
    settings: Settings,
    client: redis.Redis,
    keys: RedisKeys,
    request_sync: SyncRequester | None,
    refresh_token: TokenRefresher | None,
) -> APIRouter:
    """The console's routes (mounted by :func:`metasync.webhooks.app.create_app`)."""
    gate = Gate(settings, client, keys)
    templates = _templates()
    router = APIRouter(prefix="/console", include_in_schema=False)

    def page(
        request: Request, name: str, context: Mapping[str, Any], status: int = 200
    ) -> Response:
        session = gate.session(request)
        values = {
            "now": utcnow(),
            "user": session.user if session else None,
            "csrf": session.csrf if session else "",
            **context,
        }
        return templates.TemplateResponse(request, name, values, status_code=status)

    form = add_login_routes(router, gate, page)

    @functools.cache
    def features_context() -> SyncContext:
        """The context the Feature Settings API calls need (token cipher, settings), made at
        the first enabling."""
        return SyncContext.from_settings(settings)

    def login_form(request: Request) -> Response:
        """401 with the login form, which then lands on the page asked for."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return form(request, target, 401)

    def user_of(request: Request) -> str | None:
        session = gate.session(request)
        return session.user if session else None

    @router.get("/static/{name}")
    def static(request: Request, name: str) -> Response:
        if name not in PUBLIC_STATIC and user_of(request) is None:
            return Response("log in first", status_code=401)
        if name not in STATIC:
            return Response("not found", status_code=404)
        return FileResponse(HERE / "static" / name, media_type=STATIC[name])

    def listing(
        request: Request, template: str, flag: str | None, tenant: str, q: str, page_number: int
    ) -> Response:
        if user_of(request) is None:
            return login_form(request)
        chosen = flag if flag in FLAGS else None
        found = overview(
            client, keys, chosen, tenant.strip() or None, q.strip() or None, page_number
        )
        filters = {k: v for k, v in (("flag", chosen), ("tenant", tenant), ("q", q)) if v}
        queries = {
            "query": urlencode(filters),
            "table_query": urlencode({**filters, "page": found.page}),
            "plain_query": urlencode({k: v for k, v in filters.items() if k != "flag"}),
        }
        context = {
            "accounts": found.accounts,
            "counts": found.counts,
            "flags": FLAGS,
            "flag": chosen,
            "tenant": tenant,
            "q": q,
            "page": found.page,
            "more": found.more,
            **queries,
            **money_context(found.accounts, full=template == "overview.html"),
        }
        return page(request, template, context)

    @router.get("", response_class=HTMLResponse)
    def overview_page(
        request: Request,
        flag: str | None = None,
        tenant: Search = "",
        q: Search = "",
        page: PageNumber = 1,
    ) -> Response:
        return listing(request, "overview.html", flag, tenant, q, page)

    @router.get("/overview/table", response_class=HTMLResponse)
    def overview_table(
        request: Request,
        flag: str | None = None,
        tenant: Search = "",
        q: Search = "",
        page: PageNumber = 1,
    ) -> Response:
        return listing(request, "_overview_table.html", flag, tenant, q, page)

    @router.get("/accounts/{connection_id}/{account_id}", response_class=HTMLResponse)
    def account(request: Request, connection_id: str, account_id: str) -> Response:
        if user_of(request) is None:
            return login_form(request)
        found = account_page(client, keys, connection_id, account_id)
        if found is None:
            return page(request, "base.html", {}, 404)
        figures = account_money(found["health"])
        spend = every_day(found["spend"], *figures["period"])
        currency = found["health"].currency
        context = {
            **found,
            "h": found["health"],
            "notice": request.query_params.get("notice"),
            "spend_chart": bar_chart(spend, "spend", currency, money_label(currency)),
            "rows_chart": bar_chart(found["rows"], "rows", "rows"),
            **figures,
        }
        return page(request, "account.html", context)

    @router.get("/exports", response_class=HTMLResponse)
    def exports(request: Request, number: PageNumberAlias = 1) -> Response:
        if user_of(request) is None:
            return login_form(request)
        return page(request, "exports.html", {"found": exports_page(number)})

    @router.get("/exports/{tenant_id:path}", response_class=HTMLResponse)
    def tenant_export(request: Request, tenant_id: str) -> Response:
        if user_of(request) is None:
            return login_form(request)
        destination, runs = tenant_exports(tenant_id)
        context = {"tenant_id": tenant_id, "destination": destination, "runs": runs}
        return page(request, "tenant_exports.html", context)

    @router.get("/leads/{tenant_id:path}", response_class=HTMLResponse)
    def tenant_lead_pages(request: Request, tenant_id: str) -> Response:
        if user_of(request) is None:
            return login_form(request)
        pages = tenant_leads(tenant_id)
        context = {"tenant_id": tenant_id, "pages": pages, "fix": LEADS_NOT_GRANTED_FIX}
        return page(request, "leads.html", context)

    add_recommendation_routes(router, gate, page, login_form, settings)
    add_money_routes(router, gate, page, login_form, client, keys)

    def act(
        request: Request,
        connection_id: str,
        account_id: str,
        action: str,
        run: Callable[[MetaConnection], str],
        csrf: str,
    ) -> Response:
        session = gate.session(request)
        if session is None:
            return login_form(request)
        problem = gate.post_problem(request, session, csrf)
        if problem is not None:
            return Response(problem, status_code=403)
        user = session.user
        connection = find_connection(connection_id)
        if connection is None:
            return Response("no such connection", status_code=404)
        try:
            notice = run(connection)
        except ValueError as exc:
            notice = f"not done: {exc}"
        else:
            details = {"account_id": account_id, "result": notice}
            OperatorAction(
                tenant_id=connection.tenant_id,
                action=action,
                target=connection_id,
                by=user,
                details=details,
            ).save()
        back = f"/console/accounts/{quote(connection_id)}/{quote(account_id)}"
        return RedirectResponse(f"{back}?notice={quote(notice)}", status_code=303)

    @router.post("/connections/{connection_id}/sync")
    def sync_now(
        request: Request,
        connection_id: str,
        account_id: Annotated[str, Form()] = "",
        kind: Annotated[str, Form()] = "performance",
        since: Annotated[str, Form()] = "",
        until: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        def run(connection: MetaConnection) -> str:
            if request_sync is None:
                raise ValueError("no workers' broker is configured for this web app")
            if connection.status != ConnectionStatus.ACTIVE:
                raise ValueError(f"the connection is {connection.status}")
            if kind not in ("entities", "performance"):
                raise ValueError(f"kind must be entities or performance, not {kind}")
            kwargs: dict[str, Any] = {"kind": kind, "trigger": "console"}
            if since or until:
                first, last = (date.fromisoformat(d) if d else None for d in (since, until))
                if first and last and first > last:
                    raise ValueError(f"since {since} is after until {until}")
                kwargs["period"] = {"preset": None, "since": since or None, "until": until or None}
            return f"{kind} sync queued ({request_sync(str(connection.pk), kwargs)})"

        return act(request, connection_id, account_id, "sync", run, csrf)

    @router.post("/connections/{connection_id}/refresh-token")
    def refresh(
        request: Request,
        connection_id: str,
        account_id: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        def run(connection: MetaConnection) -> str:
            if refresh_token is None:
                raise ValueError("no workers' broker is configured for this web app")
            return f"token refresh queued ({refresh_token(str(connection.pk))})"

        return act(request, connection_id, account_id, "refresh_token", run, csrf)

    @router.post("/connections/{connection_id}/enable-feature")
    def enable_feature_now(
        request: Request,
        connection_id: str,
        account_id: Annotated[str, Form()] = "",
        feature: Annotated[str, Form()] = "",
        confirm: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        """Enable an Ads Insights feature through Meta's Feature Settings API, once the
        operator confirmed that it cannot be undone and takes up to 24 hours."""
        session = gate.session(request)
        actor = session.user if session else ""

        def run(connection: MetaConnection) -> str:
            if confirm != "yes":
                raise ValueError("confirm that Meta cannot undo it and it takes up to 24 hours")
            if connection.status != ConnectionStatus.ACTIVE:
                raise ValueError(f"the connection is {connection.status}")
            try:
                read = enable_feature(features_context(), connection, account_id, feature, actor)
            except MetaAPIError as exc:
                raise ValueError(f"Meta refused: {exc.message}") from None
            status = read.states.get(feature, "unknown").replace("_", " ")
            return f"{feature} enabled: {status} (in effect within 24 hours)"

        return act(request, connection_id, account_id, "enable_feature", run, csrf)

    @router.post("/connections/{connection_id}/{change}")
    def pause_or_resume(
        request: Request,
        connection_id: str,
        change: str,
        account_id: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        if change not in ("pause", "resume"):
            return Response("unknown action", status_code=404)

        def run(connection: MetaConnection) -> str:
            before = ConnectionStatus.ACTIVE if change == "pause" else ConnectionStatus.PAUSED
            after = ConnectionStatus.PAUSED if change == "pause" else ConnectionStatus.ACTIVE
            moved = MetaConnection.objects(pk=connection.pk, status=before).update_one(
                set__status=after, set__updated_at=utcnow()
            )
            if not moved:
                raise ValueError(f"the connection is {connection.status}, not {before}")
            keep_health(connection.tenant_id, str(connection.pk))
            return f"connection {'paused' if change == 'pause' else 'resumed'}"

        return act(request, connection_id, account_id, change, run, csrf)

    return router
