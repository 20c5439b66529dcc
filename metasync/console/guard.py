"""What guards every browser-facing answer: security headers, the same-origin check, the proxy.

- **Headers** on every answer: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  same-origin`` and ``Cache-Control: no-store`` (pages carry account data and CSRF tokens);
  on the console also a Content-Security-Policy that allows only the console's own script and
  style files (no inline script), no framing (``frame-ancestors 'none'``, ``X-Frame-Options:
  DENY``) and forms posting only to the console.
- **Same origin**: a console POST must carry an ``Origin`` (or, failing that, a ``Referer``)
  equal to the console's own origin: ``CONSOLE_ORIGIN`` when set, else the scheme and host the
  request arrived with. ``SameSite=Strict`` alone lets another port or a sibling subdomain of
  the same site post; this check does not. The CSRF token of each form is checked as well.
- **Proxies**: ``X-Forwarded-For``/``-Proto`` are believed only from ``WEB_TRUSTED_PROXIES``
  (uvicorn's middleware), so behind a TLS proxy the scheme is https and cookies are ``Secure``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from metasync.config import Settings

__all__ = ["CONSOLE_POLICY", "add_guards", "origin_problem"]

CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
CONSOLE_ONLY = {"Content-Security-Policy": CONSOLE_POLICY, "X-Frame-Options": "DENY"}


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def origin_problem(request: Request, settings: Settings) -> str | None:
    """Why a POST is refused as cross-origin, or None when it comes from the console itself."""
    expected = (settings.CONSOLE_ORIGIN or "").lower() or (
        f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    )
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        referer = request.headers.get("referer")
        origin = _origin_of(referer) if referer else origin
    if origin is None:
        return "the request carries no Origin or Referer; forms post only from the console"
    if origin.lower() != expected:
        return f"the request comes from {origin}, not from the console's origin {expected}"
    return None


def add_guards(app: FastAPI, settings: Settings) -> None:
    """Add the headers to every answer and the proxy middleware (outermost) to ``app``."""

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        answer = await call_next(request)
        for name, value in EVERY_ANSWER.items():
            answer.headers.setdefault(name, value)
        if request.url.path.startswith("/console"):
            answer.headers.update(CONSOLE_ONLY)
        return answer

    trusted = [p.strip() for p in settings.WEB_TRUSTED_PROXIES.split(",") if p.strip()]
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
