"""``/console/recommendations``: a tenant's recommendations, and approve, reject, apply and
undo from the console.

Every action is a POST through the console's gate (a session, the same-origin check and the
session's CSRF token), recorded with the person logged in: ``by`` is ``console:<user>`` in the
recommendation (``decided_by``) and in every audit entry the write leaves, as the CLI writes
``cli:<user>`` and the API ``api-key:<id>``. The actions call the same functions the CLI and
the REST API call (:func:`~metasync.optimize.settings.decide_recommendation`,
:func:`~metasync.optimize.apply.apply_recommendation`,
:func:`~metasync.optimize.undo.undo_recommendation`): leases, guards, intents, read-back and
audit are theirs, none is repeated here. An apply or undo runs within the request (it writes to
Meta and reads back, as ``POST /api/v1/recommendations/{id}/apply`` does).

A recommendation is looked up within the tenant the form names: another tenant's id answers
404, like an id that does not exist. A refusal (Meta refused for a missing permission, the
daily cap, another attempt holding the lease) is told in the notice and leaves the
recommendation where another press of the same button tries again. The console has no
read-only users (``CONSOLE_USERS`` are all operators), so every user sees the buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from metasync.config import Settings
from metasync.console.login import Gate
from metasync.console.recommendations import (
    after_attempt,
    tenant_recommendations,
    tenants_with_recommendations,
)
from metasync.graph import MetaAPIError
from metasync.graph.redact import redact
from metasync.models import OperatorAction
from metasync.models.optimizer import STATES
from metasync.optimize.apply import apply_recommendation
from metasync.optimize.claims import ApplyBusy, WriteNotPermitted
from metasync.optimize.settings import (
    RecommendationError,
    UnknownRecommendation,
    decide_recommendation,
)
from metasync.optimize.undo import undo_recommendation
from metasync.sync import SyncContext

__all__ = ["ACTIONS", "add_recommendation_routes"]

ACTIONS = ("approve", "reject", "apply", "undo")
PageRenderer = Callable[[Request, str, Mapping[str, Any], int], Response]
LoginForm = Callable[[Request], Response]
TenantId = Annotated[str, Query(max_length=200)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def _page_of(tenant_id: str, **more: str) -> str:
    return "/console/recommendations?" + urlencode({"tenant": tenant_id, **more})


def add_recommendation_routes(
    router: APIRouter,
    gate: Gate,
    page: PageRenderer,
    login_form: LoginForm,
    settings: Settings,
) -> None:
    """Add ``GET /console/recommendations`` (the tenants, or with ``tenant=`` one tenant's
    page) and ``POST /console/recommendations/{id}/{action}`` to the console's ``router``."""
    writer: list[SyncContext] = []  # the Graph clients' context, built on the first write

    def context() -> SyncContext:
        if not writer:
            writer.append(SyncContext.from_settings(settings))
        return writer[0]

    @router.get("/recommendations", response_class=HTMLResponse)
    def recommendations(
        request: Request,
        tenant: TenantId = "",
        state: str = "",
        number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    ) -> Response:
        if gate.session(request) is None:
            return login_form(request)
        notice = request.query_params.get("notice")
        if not tenant.strip():
            found = tenants_with_recommendations()
            return page(request, "recommendations.html", {"tenants": found, "found": None}, 200)
        chosen = state if state in STATES else None
        shown = tenant_recommendations(tenant.strip(), chosen, number)
        if shown is None:
            return page(request, "base.html", {}, 404)
        links = {
            "newer": _page_of(shown.tenant_id, **_filter(chosen), page=str(number - 1)),
            "older": _page_of(shown.tenant_id, **_filter(chosen), page=str(number + 1)),
        }
        context_ = {"found": shown, "notice": notice, "links": links, "tenants": None}
        return page(request, "recommendations.html", context_, 200)

    @router.post("/recommendations/{recommendation_id}/{action}")
    def act(
        request: Request,
        recommendation_id: str,
        action: str,
        tenant: Annotated[str, Form(max_length=200)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        session = gate.session(request)
        if session is None:
            return login_form(request)
        problem = gate.post_problem(request, session, csrf)
        if problem is not None:
            return Response(problem, status_code=403)
        if action not in ACTIONS:
            return Response("unknown action", status_code=404)
        by = f"console:{session.user}"
        try:
            # the notice travels in the redirect's address: no token or secret parameter in it
            notice = redact(_run(context, action, tenant, recommendation_id, by))
        except UnknownRecommendation:
            return Response(f"no recommendation {recommendation_id} of {tenant}", 404)
        OperatorAction(
            tenant_id=tenant,
            action=f"recommendation_{action}",
            target=recommendation_id,
            by=session.user,
            details={"result": notice},
        ).save()
        back = _page_of(tenant, notice=notice)
        return RedirectResponse(f"{back}#rec-{quote(recommendation_id)}", status_code=303)


def _filter(state: str | None) -> dict[str, str]:
    return {"state": state} if state else {}


def _run(context: Callable[[], SyncContext], action: str, tenant: str, ident: str, by: str) -> str:
    """Carry out ``action``; returns what it came to in one line. Raises
    :class:`UnknownRecommendation` for an id the tenant does not have."""
    try:
        if action in ("approve", "reject"):
            rec = decide_recommendation(tenant, ident, approve=action == "approve", by=by)
            return f"{rec.state} by {by}" + (
                "; apply writes it to Meta" if rec.state == "approved" else ""
            )
        if action == "apply":
            return after_attempt(apply_recommendation(context(), tenant, ident, by=by), by)
        return after_attempt(undo_recommendation(context(), tenant, ident, by=by), by)
    except UnknownRecommendation:
        raise
    except ApplyBusy as exc:
        return f"not now: {exc}; try again in {int(exc.retry_in + 0.999)} s"
    except WriteNotPermitted as exc:
        return f"not written: {exc}; once granted, apply again"
    except RecommendationError as exc:
        return f"not done: {exc}"
    except MetaAPIError as exc:
        return f"Meta: {exc}; {action} again once it answers"
