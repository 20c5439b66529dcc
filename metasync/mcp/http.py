"""The MCP server over Streamable HTTP, at ``/mcp`` of the web app (``metasync web``).

Every request must carry ``Authorization: Bearer msk_...`` (a tenant's API key): the SDK's
bearer middleware checks it with :class:`~metasync.mcp.access.KeyVerifier` and answers 401
before the MCP layer sees anything. The transport is stateless with JSON answers: no session
lives in one web process, so any copy of the app behind a load balancer answers any request,
and each request is authenticated on its own (a session cannot be taken over by another key).

The SDK's DNS-rebinding check (Host and Origin allow-lists) is left off: it protects servers
that trust whoever reaches them on localhost, and this one trusts no request without a key,
which a browser page on another origin never has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route

from metasync.config import Settings
from metasync.mcp.access import KeyVerifier
from metasync.mcp.server import build_server

__all__ = ["MCP_PATH", "McpHttp", "mcp_http"]

MCP_PATH = "/mcp"
MAX_BODY_BYTES = 256 * 1024  # a tool call's arguments are small; refuse anything larger (413)


@dataclass(frozen=True)
class McpHttp:
    """The route to add to the web app and the session manager its lifespan must run."""

    route: Route
    manager: StreamableHTTPSessionManager

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield


def mcp_http(settings: Settings, redis_client: redis.Redis) -> McpHttp:
    """The ``/mcp`` route of the web app, behind the API-key bearer check."""
    server = build_server(settings, redis_client)
    server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        max_request_body_size=MAX_BODY_BYTES,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    guarded = RequireAuthMiddleware(StreamableHTTPASGIApp(manager), required_scopes=["read"])
    endpoint = AuthenticationMiddleware(
        AuthContextMiddleware(guarded), backend=BearerAuthBackend(KeyVerifier())
    )
    return McpHttp(Route(MCP_PATH, endpoint=endpoint), manager)
