"""``metasync connections``: add, list, show and remove Meta connections."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from metasync.commands.common import connected_context, console, print_table
from metasync.config import environment_value
from metasync.graph.errors import InvalidRequestError
from metasync.graph.ids import account_number

__all__ = ["app"]

app = typer.Typer(
    help="Meta connections (one token per tenant and Meta user).", no_args_is_help=True
)


def _read_token(token_stdin: bool, token_env: str | None) -> str:
    if token_stdin:
        token = sys.stdin.readline().strip()
    elif token_env:
        token = environment_value(token_env) or ""
        if not token:
            typer.echo(f"{token_env} is not set or empty", err=True)
            raise typer.Exit(2)
    else:
        token = typer.prompt("Meta access token", hide_input=True).strip()
    if not token:
        typer.echo("no token given", err=True)
        raise typer.Exit(2)
    return token


@app.command("add")
def add(
    tenant: Annotated[str, typer.Option(help="Your tenant id for this connection.")],
    accounts: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated ad accounts (act_1,act_2); default: all the token can read."
        ),
    ] = None,
    token_stdin: Annotated[bool, typer.Option(help="Read the token from standard input.")] = False,
    token_env: Annotated[
        str | None, typer.Option(help="Read the token from this environment variable.")
    ] = None,
) -> None:
    """Add (or update) a connection. The token is never echoed and is stored encrypted."""
    from metasync.graph import MetaAPIError
    from metasync.sync.connections import add_connection

    token = _read_token(token_stdin, token_env)
    ctx = connected_context()
    try:
        account_ids = (
            [account_number(a) for a in accounts.split(",") if a.strip()] if accounts else None
        )
    except InvalidRequestError as exc:
        typer.echo(f"--accounts: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        connection = add_connection(ctx, tenant, token, account_ids)
    except MetaAPIError as exc:
        typer.echo(f"Meta refused the token: {exc}", err=True)
        raise typer.Exit(1) from None
    console.print(
        f"connection {connection.pk} for tenant {tenant}: "
        f"{len(connection.ad_account_ids)} ad account(s), token "
        f"{connection.token_type}, expires {connection.token_expires_at or 'never'}"
    )


def _minute(moment: datetime | None, missing: str) -> str:
    """A stored time to the minute, UTC (the seconds and microseconds are noise here)."""
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else missing


@app.command("list")
def list_connections() -> None:
    """All connections with their status and last syncs."""
    from metasync.graph.version_warning import recent_version_warning
    from metasync.models import MetaConnection, utcnow

    connected_context()
    table = Table(
        "id",
        "tenant",
        "meta user",
        "status",
        "accounts",
        "last sync",
        "token expires",
        "data access ends",
        "warning",
    )
    now = utcnow()
    for c in MetaConnection.objects.order_by("tenant_id"):
        table.add_row(
            str(c.pk),
            c.tenant_id,
            c.meta_user_id,
            c.status,
            str(len(c.ad_account_ids)),
            _minute(c.last_entity_sync_at, "-"),
            _minute(c.token_expires_at, "never"),
            _minute(c.data_access_expires_at, "-"),
            "; ".join(w for w in (c.token_warning, recent_version_warning(c, now)) if w) or "-",
        )
    print_table(table, wrap=("warning",))


@app.command("show")
def show(connection_id: str) -> None:
    """One connection in detail (never its token)."""
    from metasync.models import MetaConnection

    connected_context()
    connection = MetaConnection.objects(pk=connection_id).first()
    if connection is None:
        typer.echo(f"no connection {connection_id}", err=True)
        raise typer.Exit(1)
    fields = (
        "tenant_id",
        "meta_user_id",
        "status",
        "status_reason",
        "token_type",
        "token_expires_at",
        "data_access_expires_at",
        "token_checked_at",
        "token_warning",
        "api_version_warning",
        "api_version_warning_at",
        "api_version_served",
        "token_scopes",
        "token_key_id",
        "ad_account_ids",
        "last_entity_sync_at",
        "last_full_sync_at",
        "last_performance_sync_at",
        "last_error",
        "last_error_at",
        "created_at",
        "updated_at",
    )
    for name in fields:
        console.print(f"{name}: {getattr(connection, name)}")


@app.command("remove")
def remove(
    connection_id: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False
) -> None:
    """Delete a connection and its token (the mirrored data stays)."""
    from metasync.models import MetaConnection

    connected_context()
    connection = MetaConnection.objects(pk=connection_id).first()
    if connection is None:
        typer.echo(f"no connection {connection_id}", err=True)
        raise typer.Exit(1)
    if not yes:
        typer.confirm(
            f"remove connection {connection_id} of tenant {connection.tenant_id}?", abort=True
        )
    connection.delete()
    console.print(f"removed connection {connection_id}")
