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
- **Proxies** (uvicorn's ``ProxyHeadersMiddleware``, 0.49 or later, given the entries of
  ``WEB_TRUSTED_PROXIES``, which settings validation holds to IP addresses and networks):
  ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are read only when the direct peer is a listed
  proxy. The client is the rightmost ``X-Forwarded-For`` entry that is not a listed proxy
  (walking from the right over every header line joined, skipping trusted hops), so entries a
  client writes to the left of what its proxy appended are never believed: they neither spread
  one client over many addresses nor charge another address with its failures. When every
  entry is a listed proxy, the leftmost one is the client (a listed proxy vouched for each hop).
  The scheme is the last ``X-Forwarded-Proto`` line the trusted peer sent, taken only when it is
  a single ``http`` or ``https``; a list (``http, https``) is not believed and the connection's
  own scheme stays: the proxy must set the header, not append to it (nginx:
  ``proxy_set_header X-Forwarded-Proto $scheme``). Behind a TLS proxy the scheme is then https
  and cookies are ``Secure``.

  Assumed: each listed proxy appends the address it received the connection from (nginx's
  ``$proxy_add_x_forwarded_for``), and whoever connects from a listed address is trusted like
  a proxy (the default, ``127.0.0.1``, trusts this host's own processes): every listed
  address is trusted completely, to name any client. ``*`` and ``0.0.0.0/0`` are refused:
  they would make the client's own leftmost entry its address. An IPv4 entry also trusts its
  IPv4-mapped IPv6 form (``::ffff:10.0.0.2``), which is how a server listening on ``::``
  (``metasync web --host ::``) sees IPv4 peers; the login throttle counts such an address as
  its IPv4 address and any other IPv6 address by its /64
  (:func:`metasync.console.throttle.address_scope`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from metasync.config import Settings

__all__ = ["CONSOLE_POLICY", "add_guards", "origin_problem", "with_mapped_forms"]

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

    listed = [p.strip() for p in settings.WEB_TRUSTED_PROXIES.split(",") if p.strip()]
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=with_mapped_forms(listed))


def with_mapped_forms(listed: list[str]) -> list[str]:
    """``listed`` and, for each IPv4 address or network in it, its IPv4-mapped IPv6 form
    (``10.0.0.2`` -> ``::ffff:10.0.0.2``, ``10.0.0.0/24`` -> ``::ffff:10.0.0.0/120``): a
    server listening on ``::`` sees IPv4 peers in that form, and uvicorn compares an IPv6 peer
    with IPv6 entries only. Entries are assumed valid (settings validation checked them)."""
    mapped = []
    for entry in listed:
        network = ipaddress.ip_network(entry)
        if network.version == 4:
            form = f"::ffff:{network.network_address}"
            mapped.append(f"{form}/{96 + network.prefixlen}" if "/" in entry else form)
    return [*listed, *mapped]
