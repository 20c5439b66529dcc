"""Flower as ``metasync flower`` serves it: every path behind basic auth, read-only by default.

Flower itself leaves its own ``/metrics`` open to anyone (its handler has no authentication)
and, with credentials, lets its HTTP API queue any task (``/api/task/async-apply``), revoke
tasks and shut workers down. Operators do not need that: metasync's command line, console and
REST API start syncs and applies, with their own checks. So :class:`GatedFlower` decides before
routing, for every request:

1. credentials (:class:`~workers.flower_gate.BasicAuthGate`): none or wrong, 401 (429 with
   ``Retry-After`` while wrong guesses are being throttled); no path is exempt, ``/metrics``,
   ``/healthcheck`` and the static files included (Prometheus scrapes with its own pair);
2. read-only unless ``FLOWER_TASK_CONTROL`` is true: any method but GET and HEAD gets 403, and
   Flower's ``read_only`` option hides its control buttons. This assumes what holds in Flower
   2.2: no GET changes state (every control and apply route is a POST); a route a later Flower
   adds is covered as long as that stays true, whatever its path.

Flower's ``FLOWER_*`` environment variables and ``flowerconfig.py`` are not read: the options
set here are the whole configuration (``FLOWER_UNAUTHENTICATED_API`` cannot open the API).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import signal
import time
from typing import Any

import tornado.web
from flower.app import Flower
from flower.options import default_options
from flower.urls import settings as flower_settings
from flower.utils import prepend_url
from tornado.httputil import HTTPServerRequest
from tornado.ioloop import IOLoop

from workers.flower_gate import BasicAuthGate, FailedLoginBucket, Verdict

__all__ = ["GatedFlower", "serve"]

logger = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD"})


class Refusal(tornado.web.RequestHandler):
    """Answers a refused request with its status, whatever the method, without Flower."""

    def initialize(self, verdict: Verdict, message: str) -> None:
        self.verdict = verdict
        self.message = message

    def check_xsrf_cookie(self) -> None:
        """A refusal changes nothing, so tornado's XSRF check (which would answer 403 to an
        unauthenticated POST before the 401) is not needed."""

    def prepare(self) -> None:
        self.set_status(self.verdict.status)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        if self.verdict.status == 401:
            self.set_header("WWW-Authenticate", 'Basic realm="flower"')
        if self.verdict.retry_after:
            self.set_header("Retry-After", str(self.verdict.retry_after))
        self.finish(self.message + "\n")


class GatedFlower(Flower):  # type: ignore[misc]
    """Flower's application with the checks of this module before its routes."""

    def __init__(self, *, gate: BasicAuthGate, read_only: bool, **kwargs: Any) -> None:
        self.gate = gate
        self.read_only = read_only
        self._throttle_logged = -math.inf  # monotonic seconds of the last warning
        super().__init__(**kwargs)

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        verdict = self.gate.admit(request.headers.get("Authorization"))
        if verdict.status == 429:
            self._warn_of_guessing()
            return self._refuse(request, verdict, "too many failed logins: try again later")
        if not verdict.admitted:
            return self._refuse(request, verdict, "credentials required")
        if self.read_only and request.method not in READ_METHODS:
            message = "Flower is read-only here (FLOWER_TASK_CONTROL is not true)"
            return self._refuse(request, Verdict(403), message)
        return super().find_handler(request, **kwargs)

    def _warn_of_guessing(self) -> None:
        """One warning a minute at most while wrong passwords are being throttled."""
        now = time.monotonic()
        if now - self._throttle_logged >= 60:
            self._throttle_logged = now
            logger.warning("wrong Flower passwords are being throttled (429): someone is guessing")

    def _refuse(self, request: HTTPServerRequest, verdict: Verdict, message: str) -> Any:
        return self.get_handler_delegate(request, Refusal, {"verdict": verdict, "message": message})


def serve(
    *,
    host: str,
    port: int,
    credentials: tuple[str, ...],
    task_control: bool,
    url_prefix: str = "",
) -> None:
    """Serve Flower for the workers' Celery app on ``host:port`` until SIGTERM or SIGINT.

    ``credentials`` are checked pairs (:func:`~workers.flower_gate.parse_credentials`);
    ``task_control`` opens Flower's task and worker control API; ``url_prefix`` serves it
    under a path (for a proxy that serves it beside other things)."""
    from workers.app import app as celery_app

    options = default_options
    options.address = host
    options.port = port
    options.basic_auth = list(credentials)  # Flower checks them again: harmless
    options.read_only = not task_control
    options.url_prefix = url_prefix.strip("/") or None
    settings = dict(flower_settings)
    settings["debug"] = False
    settings["cookie_secret"] = secrets.token_urlsafe(64)
    if options.url_prefix:
        for name in ("login_url", "static_url_prefix"):
            settings[name] = prepend_url(settings[name], options.url_prefix)
    logging.getLogger("tornado.access").disabled = True  # as Flower does: no line per request

    asyncio.set_event_loop(asyncio.new_event_loop())
    io_loop = IOLoop.current()
    flower = GatedFlower(
        gate=BasicAuthGate(credentials, FailedLoginBucket()),
        read_only=not task_control,
        capp=celery_app,
        options=options,
        io_loop=io_loop,
        **settings,
    )
    bound = flower.start_http_server()
    for number in (signal.SIGTERM, signal.SIGINT):
        io_loop.asyncio_loop.add_signal_handler(number, flower.stop)  # type: ignore[attr-defined]
    mode = "task control on" if task_control else "read-only"
    path = f"/{options.url_prefix}/" if options.url_prefix else "/"
    logger.info("Flower at http://%s:%s%s (%s, basic auth)", host, bound, path, mode)
    flower.start()
