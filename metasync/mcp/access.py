"""Who calls a tool: the tenant's API key, its scopes and its share of the request rate.

Over Streamable HTTP every request carries ``Authorization: Bearer msk_...``; the SDK's bearer
middleware (:class:`KeyVerifier` underneath) checks it per request, before any tool runs, so a
key revoked a second ago is refused on its next request. Over stdio the key comes from the
environment (``METASYNC_API_KEY``, never the command line, where ``ps`` would show it) and is
checked again on every call. Either way a tool sees one :class:`~metasync.api.keys.Caller` and
every query it makes is filtered by that caller's tenant: another tenant's id is "not found",
exactly like an id that does not exist.

Scopes: ``read`` answers every read tool; the proposal tools need ``propose`` (or
``optimize``, which may do more). Approving and applying are not tools at all.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from metasync.api.keys import Caller, authenticate
from metasync.api.limits import RateLimiter

__all__ = ["PROPOSING_SCOPES", "Access", "KeyVerifier"]

PROPOSING_SCOPES = frozenset({"propose", "optimize"})


class KeyVerifier:
    """The SDK's token verifier over metasync's API keys: the key's id as the client id, its
    tenant as a claim, its scopes as the token's."""

    async def verify_token(self, token: str) -> AccessToken | None:
        found = await anyio.to_thread.run_sync(authenticate, token)
        if found is None:
            return None
        return AccessToken(
            token=token,
            client_id=found.key_id,
            scopes=sorted(found.scopes),
            claims={"tenant_id": found.tenant_id},
        )


def _from_request(ctx: Context[Any, Any]) -> Caller | None:
    """The caller the HTTP bearer middleware put on this request (None: no HTTP request)."""
    request = ctx.request_context.request if ctx.request_context is not None else None
    user = getattr(request, "scope", {}).get("user") if request is not None else None
    if not isinstance(user, AuthenticatedUser):
        return None
    token = user.access_token
    tenant = (token.claims or {}).get("tenant_id")
    if not isinstance(tenant, str) or not tenant:
        return None
    return Caller(tenant, token.client_id, frozenset(token.scopes))


class Access:
    """How the tools of one server find their caller: the HTTP request's key, or (stdio) the
    key the process was given. ``limiter``: the REST API's bucket per key, shared with it, so a
    key's requests per minute count the same whichever way they come."""

    def __init__(self, limiter: RateLimiter | None = None, key: str | None = None) -> None:
        self.limiter = limiter
        self.key = key

    def caller(self, ctx: Context[Any, Any], needs: frozenset[str] = frozenset({"read"})) -> Caller:
        """The caller, when its key holds one of ``needs``; a :class:`ToolError` otherwise."""
        who = authenticate(self.key) if self.key is not None else _from_request(ctx)
        if who is None:
            raise ToolError("a valid, unrevoked metasync API key is required")
        if not needs & who.scopes:
            wanted = " or ".join(sorted(needs))
            raise ToolError(
                f"this key may not do that: it needs the {wanted} scope (an operator runs "
                f"metasync api-keys scope --tenant T KEY_ID --scope {sorted(needs)[-1]})"
            )
        if self.limiter is not None:
            wait = self.limiter.wait_seconds(who.key_id)
            if wait:
                raise ToolError(f"this key used its requests for the minute; retry in {wait} s")
        return who
