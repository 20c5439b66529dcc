"""The console's gate: the login form, logging in and out, and the checks every POST passes.

Logging in lands where the person was going: a page asked for without a session shows the form
with that page as ``next``; the form keeps it through mistyped passwords; ``next`` is only ever
a console page (never the login or logout address, nor another site), else the overview.
Every form carries a CSRF token: the session's own, or for the login form a signed one that
lasts :data:`LOGIN_FORM_SECONDS`. See :mod:`metasync.console.throttle` for the waits failed
logins earn and :mod:`metasync.console.guard` for the same-origin check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from metasync.config import Settings
from metasync.console.auth import ChecksBusy, ConsoleUsers
from metasync.console.guard import origin_problem
from metasync.console.sessions import COOKIE, Session, Sessions
from metasync.console.throttle import LoginThrottle
from metasync.keys import RedisKeys

__all__ = ["LOGIN_FORM_SECONDS", "Gate", "safe_target"]

LOGIN_FORM_SECONDS = 3600
NOT_A_LANDING = ("/console/login", "/console/logout", "/console/static")
PageRenderer = Callable[[Request, str, Mapping[str, Any], int], Response]


def safe_target(wanted: str | None) -> str:
    """``wanted`` when it is a console page worth landing on, else the overview."""
    if (
        not wanted
        or not wanted.startswith("/console")
        or "//" in wanted
        or "\\" in wanted
        or wanted.startswith(NOT_A_LANDING)
    ):
        return "/console"
    return wanted


class Gate:
    """Sessions, login throttling and the checks of every console POST."""

    def __init__(self, settings: Settings, client: redis.Redis, keys: RedisKeys) -> None:
        self.settings = settings
        self.users = ConsoleUsers(settings)
        self.sessions = Sessions(client, keys, self.users, settings.CONSOLE_SESSION_HOURS * 3600)
        self.throttle = LoginThrottle(
            client, keys, settings.LOGIN_FREE_FAILURES, settings.LOGIN_MAX_WAIT_SECONDS
        )
        secret = hashlib.sha256(
            b"metasync console login forms\0" + settings.ENCRYPTION_KEY.get_secret_value().encode()
        ).hexdigest()
        self.form_tokens = URLSafeTimedSerializer(secret, salt="login-form")

    def session(self, request: Request) -> Session | None:
        """The request's session, read from Redis once per request (a page asks twice: for
        its access check and for its header)."""
        if not hasattr(request.state, "console_session"):
            request.state.console_session = self.sessions.find(request.cookies.get(COOKIE))
        found: Session | None = request.state.console_session
        return found

    def login_token(self) -> str:
        return self.form_tokens.dumps(secrets.token_hex(8))

    def post_problem(self, request: Request, session: Session | None, csrf: str) -> str | None:
        """Why a console POST is refused (cross-origin, or a missing or wrong CSRF token)."""
        problem = origin_problem(request, self.settings)
        if problem is not None:
            return problem
        if session is not None:
            if not csrf or not hmac.compare_digest(csrf.encode(), session.csrf.encode()):
                return "the form's CSRF token is missing or not this session's; reload the page"
            return None
        try:
            self.form_tokens.loads(csrf, max_age=LOGIN_FORM_SECONDS)
        except BadSignature:
            return "the login form expired or did not come from the console; reload it"
        return None


LoginForm = Callable[..., Response]


def add_login_routes(router: APIRouter, gate: Gate, page: PageRenderer) -> LoginForm:
    """``GET``/``POST /console/login`` and ``POST /console/logout``; returns the function that
    answers with the login form (``request, next, status``)."""

    def form(
        request: Request,
        target: str,
        status: int,
        error: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        answer = page(
            request,
            "login.html",
            {"next": safe_target(target), "error": error, "login_token": gate.login_token()},
            status,
        )
        answer.headers.update(headers or {})
        return answer

    @router.get("/login")
    def login_page(request: Request, next: str = "/console") -> Response:
        if gate.session(request) is not None:
            return RedirectResponse(safe_target(next), status_code=303)
        return form(request, next, 200)

    @router.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form(max_length=200)],
        password: Annotated[str, Form(max_length=1000)],
        next: Annotated[str, Form(max_length=2000)] = "/console",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        problem = gate.post_problem(request, None, csrf)
        if problem is not None:
            return form(request, next, 403, problem)
        address = request.client.host if request.client else "unknown"
        wait = gate.throttle.reserve(address, username)  # counted before the check
        if wait:
            message = f"too many failed logins: try again in {wait} s"
            return form(request, next, 429, message, {"Retry-After": str(wait)})
        try:
            matches = gate.users.check(username, password)
        except ChecksBusy as exc:
            gate.throttle.release(address, username)  # no password was checked
            return form(request, next, 503, str(exc), {"Retry-After": "5"})
        if not matches:  # the attempt stays counted
            return form(request, next, 401, "unknown user or wrong password")
        gate.throttle.succeeded(address, username)
        answer = RedirectResponse(safe_target(next), status_code=303)
        answer.set_cookie(
            COOKIE,
            gate.sessions.open(username),
            max_age=gate.sessions.max_age_seconds,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/console",
        )
        return answer

    @router.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        session = gate.session(request)
        if session is not None:
            problem = gate.post_problem(request, session, csrf)
            if problem is not None:
                return Response(problem, status_code=403)
            gate.sessions.close(request.cookies.get(COOKIE))
        answer = RedirectResponse("/console/login", status_code=303)
        answer.delete_cookie(COOKIE, path="/console")
        return answer

    return form
