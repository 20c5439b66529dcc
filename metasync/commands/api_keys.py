"""``metasync api-keys``: a tenant's keys for the REST API (``/api/v1``)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from metasync.commands.common import console, print_table, tenant_context

__all__ = ["api_keys_app"]

api_keys_app = typer.Typer(help="A tenant's keys for the REST API.", no_args_is_help=True)
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant the key reads for.")]
Scope = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        help="What else the key may do: sync, optimize, propose, leads (list Lead Ads leads), "
        "lead_answers (with leads: see their answers) (repeatable).",
    ),
]


@api_keys_app.command("create")
def create(
    tenant: Tenant,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    scope: Scope = None,
) -> None:
    """Create a key and print it once (only its digest is stored). It reads only unless given
    ``--scope sync`` (ask for syncs) or ``--scope optimize`` (decide recommendations)."""
    from metasync.api.keys import ApiKeyError, create_key

    tenant_context(tenant)
    try:
        record, plain = create_key(tenant, name, by=f"cli:{getpass.getuser()}", scopes=scope or [])
    except ApiKeyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(f"API key {record.key_id} of tenant {tenant} (shown once, keep it secret):")
    typer.echo(plain)


@api_keys_app.command("list")
def list_command(tenant: Tenant) -> None:
    """The tenant's keys: id, name, created, last used, revoked."""
    from metasync.api.keys import list_keys

    tenant_context(tenant)
    table = Table("key id", "name", "scopes", "created", "last used", "revoked")
    for key in list_keys(tenant):
        table.add_row(
            key.key_id,
            key.name or "",
            ", ".join(key.scopes or ["read"]),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    print_table(table, wrap=("name",))


@api_keys_app.command("scope")
def scope_command(
    tenant: Tenant,
    key_id: Annotated[str, typer.Argument(help="The key id (see list).")],
    scope: Scope = None,
) -> None:
    """Set what a key may do besides reading (no --scope: read only)."""
    from metasync.api.keys import ApiKeyError, set_scopes

    tenant_context(tenant)
    try:
        found = set_scopes(tenant, key_id, scope or [])
    except ApiKeyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(f"API key {key_id} of tenant {tenant} may now: {', '.join(found.scopes)}")


@api_keys_app.command("revoke")
def revoke_command(
    tenant: Tenant, key_id: Annotated[str, typer.Argument(help="The key id (see list).")]
) -> None:
    """Revoke a key: requests with it answer 401 from now on."""
    from metasync.api.keys import ApiKeyError, revoke

    tenant_context(tenant)
    try:
        revoke(tenant, key_id)
    except ApiKeyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(f"API key {key_id} of tenant {tenant} revoked")
