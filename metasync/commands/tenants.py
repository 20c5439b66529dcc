"""``metasync tenants``: every tenant, its connections and its ad accounts (names beside ids)."""

from __future__ import annotations

from typing import Any

import typer

from metasync.commands.common import connected_context, known_tenants

__all__ = ["tenants"]


def tenants() -> None:
    """Every tenant metasync knows (the names --tenant takes), with its connections (id,
    status, Meta user) and their ad accounts (id, name, currency)."""
    from metasync.models import AdAccount, MetaConnection

    connected_context()
    names = known_tenants()
    for tenant in names:
        typer.echo(tenant)  # plain lines: an id is never cut or folded, whatever the width
        accounts = {a.account_id: a for a in AdAccount.objects(tenant_id=tenant).order_by("name")}
        listed: set[str] = set()
        for connection in MetaConnection.objects(tenant_id=tenant).order_by("created_at"):
            typer.echo(
                f"  connection {connection.pk} ({connection.status}, Meta user "
                f"{connection.meta_user_id or '?'})"
            )
            for number in connection.ad_account_ids or []:
                listed.add(number)
                typer.echo(f"    {_account(number, accounts.get(number))}")
        unread = [number for number in accounts if number not in listed]
        if unread:
            typer.echo("  mirrored, read by no connection now:")
            for number in unread:
                typer.echo(f"    {_account(number, accounts[number])}")
    typer.echo(f"{len(names)} tenant(s)")


def _account(number: str, account: Any) -> str:
    """``act_1 Spring shoes (EUR)``; what is not known yet is left out."""
    if account is None:
        return f"act_{number} (not synced yet)"
    name = f" {account.name}" if account.name else ""
    gone = ", deleted at Meta" if account.deleted_at else ""
    return f"act_{number}{name} ({account.currency or 'currency not synced yet'}{gone})"
