"""The MCP server over stdio (``metasync mcp``), for desktop assistants that start it.

Standard output carries the protocol alone: nothing else may print there (logs go to standard
error). The API key comes from the environment, never the command line (argv is visible to
every user of the machine through ``ps``); it is checked once at start, so a wrong key ends
the process with a message instead of failing every call, and again on every call, so a key
revoked meanwhile stops answering.
"""

from __future__ import annotations

import redis

from metasync.api.keys import Caller, authenticate
from metasync.config import Settings
from metasync.mcp.server import build_server

__all__ = ["KEY_VARIABLE", "KeyRefused", "check_key", "serve_stdio"]

KEY_VARIABLE = "METASYNC_API_KEY"


class KeyRefused(Exception):
    """The key given in the environment is not a valid, unrevoked API key."""


def check_key(key: str) -> Caller:
    found = authenticate(key)
    if found is None:
        raise KeyRefused(
            f"{KEY_VARIABLE} is not a valid, unrevoked API key: create one with "
            "metasync api-keys create --tenant T"
        )
    return found


def serve_stdio(settings: Settings, key: str) -> None:
    """Serve until standard input closes (MongoDB must be connected)."""
    check_key(key)
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        build_server(settings, client, key=key).run("stdio")
    finally:
        client.close()
