"""``metasync mcp``: the MCP server over stdio, for a desktop assistant that starts it."""

from __future__ import annotations

import typer

__all__ = ["mcp"]


def mcp() -> None:
    """Serve the MCP tools over standard input and output for one tenant: read the mirror
    (no call to Meta) and store proposals for a person to approve. The tenant's API key comes
    from METASYNC_API_KEY (never the command line); its scopes hold as on /api/v1 (propose
    needs the propose scope). Over HTTP the same server is /mcp of metasync web."""
    from metasync import db
    from metasync.commands.common import settings_or_exit
    from metasync.config import environment_value
    from metasync.mcp import KEY_VARIABLE, KeyRefused, serve_stdio

    settings = settings_or_exit()
    key = environment_value(KEY_VARIABLE)
    if key is None:
        typer.echo(f"{KEY_VARIABLE} is required: set it to a tenant's API key", err=True)
        raise typer.Exit(2)
    db.connect(settings.MONGODB_URI)
    try:
        serve_stdio(settings, key)
    except KeyRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
