"""A Model Context Protocol server over the mirror: reads answered from MongoDB, proposals
stored for people to decide (see :mod:`metasync.mcp.server`)."""

from metasync.mcp.http import MCP_PATH, McpHttp, mcp_http
from metasync.mcp.server import build_server
from metasync.mcp.stdio import KEY_VARIABLE, KeyRefused, serve_stdio

__all__ = [
    "KEY_VARIABLE",
    "MCP_PATH",
    "KeyRefused",
    "McpHttp",
    "build_server",
    "mcp_http",
    "serve_stdio",
]
