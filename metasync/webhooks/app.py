"""The webhook endpoint (FastAPI): Meta's handshake, signed notifications, health.

A POST is verified over its raw bytes before anything is parsed, answered at once, and each
change of each entry becomes its own task. A change seen before (Meta re-delivers) is recognised
by a key in Redis and not queued again. Bad input gets 400/401/403/413 with a reason, never a
5xx; a 503 only means the broker could not take the work, so Meta's re-delivery brings it back.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import redis
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from metasync import db
from metasync.api.metrics import add_metrics_route
from metasync.api.routes import ApiProblem, SyncRequester, api_router
from metasync.config import ConfigurationError, Settings
from metasync.console.app import console_router
from metasync.console.guard import add_guards
from metasync.keys import RedisKeys
from metasync.mcp import mcp_http
from metasync.models import WebhookEvent, WebhookStatus, utcnow
from metasync.webhooks.payload import REFETCH_FIELDS, Change, PayloadError, parse_notification
from metasync.webhooks.signature import SignatureError, verify_signature

__all__ = ["DEDUPE_TTL_SECONDS", "MAX_BODY_BYTES", "create_app"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
DEDUPE_TTL_SECONDS = 7 * 86400  # Meta re-delivers for up to a day or so; a week is plenty


class Accepted(BaseModel):
    received: int
    queued: int
    duplicates: int
    ignored: int = 0  # changes to fields metasync does not act on: recorded, no task


class Problem(BaseModel):
    error: str


class Health(BaseModel):
    redis: bool
    mongodb: bool


def _path_pattern(path: str) -> re.Pattern[str]:
    """The schema path ``path`` as a full-segment pattern: each ``{parameter}`` matches one
    segment (no ``/``), everything else literally."""
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)))


def create_app(
    settings: Settings,
    enqueue: Callable[[Change, str], None],
    redis_client: redis.Redis | None = None,
    *,
    connect_db: bool = True,
    request_sync: SyncRequester | None = None,
    refresh_token: Callable[[str], str] | None = None,
) -> FastAPI:
    """The ASGI app: the webhook endpoint, ``/healthz``, the REST API (``/api/v1``), the
    console (``/console``), the MCP server (``/mcp``) and ``/metrics``.
    ``enqueue(change, dedupe_key)`` hands a change to the workers;
    ``request_sync(connection id, task kwargs)`` asks them for a sync and
    ``refresh_token(connection id)`` for a token exchange, each returning a request id."""
    if settings.META_APP_VERIFY_TOKEN is None:
        raise ConfigurationError(
            {
                "META_APP_VERIFY_TOKEN": "is required by the webhook app: "
                "set it to the verify token you gave Meta"
            }
        )
    verify_token = settings.META_APP_VERIFY_TOKEN.get_secret_value()
    app_secret = settings.META_APP_SECRET.get_secret_value()
    keys = RedisKeys(settings.REDIS_KEY_PREFIX)
    client = redis_client or redis.Redis.from_url(settings.REDIS_URL)
    mcp = mcp_http(settings, client)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if connect_db:
            db.connect(settings.MONGODB_URI)
            db.ensure_indexes(settings.RUN_RETENTION_DAYS)
        async with mcp.running():
            yield

    app = FastAPI(
        title="metasync",
        version="1",
        lifespan=lifespan,
        description="Meta's ad-account webhooks (one re-sync queued per change), the "
        "tenant-scoped REST API of the mirror (/api/v1, by API key), the operator console "
        "(/console) and Prometheus metrics (/metrics).",
    )
    app.include_router(api_router(settings, client, keys, request_sync))
    app.include_router(console_router(settings, client, keys, request_sync, refresh_token))
    app.router.routes.append(mcp.route)  # the MCP server (Streamable HTTP), by API key
    add_metrics_route(app, settings, client, keys)
    add_guards(app, settings)

    @app.exception_handler(ApiProblem)
    async def api_problem(_: Request, exc: ApiProblem) -> Response:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    def problem(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.get(
        "/webhooks/meta",
        response_class=PlainTextResponse,
        responses={
            403: {
                "description": "not a subscribe request, or a wrong verify token",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
        summary="Meta's subscription handshake",
    )
    def handshake(
        mode: Annotated[str | None, Query(alias="hub.mode")] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
        token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    ) -> Any:
        if (
            mode == "subscribe"
            and challenge is not None
            and token is not None
            and (hmac.compare_digest(token.encode(), verify_token.encode()))
        ):
            return PlainTextResponse(challenge)
        return PlainTextResponse(
            "the verify token does not match, or this is not a subscribe request", 403
        )

    @app.post(
        "/webhooks/meta",
        response_model=Accepted,
        summary="Meta's notifications",
        responses={
            400: {"model": Problem},
            401: {"model": Problem},
            403: {"model": Problem},
            413: {"model": Problem},
            503: {"model": Problem},
        },
    )
    async def notify(request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return problem(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return problem(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            verify_signature(body, request.headers, app_secret)
        except SignatureError as exc:
            return problem(401 if exc.missing else 403, str(exc))
        try:
            changes = parse_notification(body)
        except PayloadError as exc:
            return problem(400, str(exc))
        queued = duplicates = ignored = 0
        for change in changes:
            key = change.dedupe_key
            dedupe = f"{keys.prefix}webhook:{key}"
            try:
                fresh = client.set(dedupe, "1", nx=True, ex=DEDUPE_TTL_SECONDS)
            except redis.RedisError:
                return problem(503, "Redis is unavailable; Meta will deliver again")
            if not fresh:
                duplicates += 1
                continue
            acted_on = change.field in REFETCH_FIELDS
            try:
                now = utcnow()
                WebhookEvent.objects(dedupe_key=key).update_one(
                    upsert=True,
                    set_on_insert__account_id=change.account_id,
                    set_on_insert__field=change.field,
                    set_on_insert__value=change.value,
                    set_on_insert__time=change.time,
                    set_on_insert__status=(
                        WebhookStatus.QUEUED if acted_on else WebhookStatus.IGNORED
                    ),
                    set_on_insert__detail=(
                        None if acted_on else f"field {change.field} is not acted on"
                    ),
                    set_on_insert__received_at=now,
                    set_on_insert__queued_at=now,
                    set_on_insert__processed_at=None if acted_on else now,
                )
                if acted_on:  # a change nobody acts on costs no task
                    enqueue(change, key)
            except Exception:
                client.delete(dedupe)
                log.exception("could not queue webhook change for account %s", change.account_id)
                return problem(503, "the change could not be queued; Meta will deliver again")
            if acted_on:
                queued += 1
            else:
                ignored += 1
        return Accepted(
            received=len(changes), queued=queued, duplicates=duplicates, ignored=ignored
        )

    @functools.cache
    def path_patterns() -> list[tuple[re.Pattern[str], set[str]]]:
        """Each path of the schema as a pattern, with its methods (included routers are not
        in ``app.routes``; the schema lists every route a client may call)."""
        return [
            (_path_pattern(path), {method.upper() for method in operations})
            for path, operations in app.openapi()["paths"].items()
        ]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # list every method of the path, not just one route's
            methods = {m for m in headers.get("Allow", "").split(", ") if m}
            for pattern, operations in path_patterns():
                if pattern.fullmatch(request.url.path):
                    methods |= operations
            headers["Allow"] = ", ".join(sorted(methods))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.get(
        "/healthz",
        response_model=Health,
        responses={503: {"model": Health}},
        summary="Redis and MongoDB reachability",
    )
    def healthz() -> Any:
        state = {"redis": False, "mongodb": False}
        with contextlib.suppress(redis.RedisError):
            state["redis"] = bool(client.ping())
        try:
            state["mongodb"] = bool(db.database().command("ping").get("ok"))
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            state["mongodb"] = False
        return JSONResponse(state, status_code=200 if all(state.values()) else 503)

    return app
