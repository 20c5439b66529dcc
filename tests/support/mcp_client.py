"""The MCP SDK's own client, as an assistant would use it, for the MCP server's tests: over
Streamable HTTP against a real HTTP server (uvicorn in a thread) and over stdio."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Tool

from metasync.embedded import free_port

__all__ = ["Answer", "call", "calls", "list_tools", "serving"]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Answer:
    """A tool's answer: its structured result, or the error text it gave."""

    def __init__(self, result: CallToolResult) -> None:
        self.error = result.is_error
        self.text = " ".join(getattr(c, "text", "") for c in result.content)
        self.data: dict[str, Any] = result.structured_content or {}

    def __repr__(self) -> str:
        return f"Answer(error={self.error}, text={self.text[:300]!r})"


@asynccontextmanager
async def _connected(target: str | StdioServerParameters, key: str | None) -> AsyncIterator[Client]:
    """A client of ``target``: a base URL (Streamable HTTP, ``key`` as the bearer) or stdio
    parameters (a process to start)."""
    async with AsyncExitStack() as stack:
        if isinstance(target, StdioServerParameters):
            server: Any = target
        else:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))
            server = streamable_http_client(f"{target}/mcp", http_client=http)
        yield await stack.enter_async_context(Client(server))


async def _calls(
    target: str | StdioServerParameters, key: str | None, batch: list[tuple[str, dict[str, Any]]]
) -> list[Answer]:
    async with _connected(target, key) as client:
        return [Answer(await client.call_tool(name, args)) for name, args in batch]


def call(url: str, key: str | None, name: str, **arguments: Any) -> Answer:
    """One tool call over Streamable HTTP with ``key`` as the bearer."""
    return anyio.run(_calls, url, key, [(name, arguments)])[0]


def calls(
    target: str | StdioServerParameters, key: str | None, batch: list[tuple[str, dict[str, Any]]]
) -> list[Answer]:
    """Several calls in one connection."""
    return anyio.run(_calls, target, key, batch)


async def _tools(target: str | StdioServerParameters, key: str | None) -> list[Tool]:
    async with _connected(target, key) as client:
        return list((await client.list_tools()).tools)


def list_tools(target: str | StdioServerParameters, key: str | None = None) -> list[Tool]:
    return anyio.run(_tools, target, key)
