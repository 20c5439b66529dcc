"""``metasync keys``: the encryption key (``ENCRYPTION_KEY``) and its rotation."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from rich.table import Table

from metasync.commands.common import print_table, settings_or_exit

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="The encryption key of tokens and export destinations.", no_args_is_help=True
)


@keys_app.command("generate")
def generate() -> None:
    """Print a new random ENCRYPTION_KEY (64 hex characters) to standard output."""
    typer.echo(secrets.token_hex(32))


@keys_app.command("rotate")
def rotate(
    dry_run: Annotated[
        bool, typer.Option(help="Only count what would be re-encrypted (and what cannot be).")
    ] = False,
) -> None:
    """Re-encrypt everything stored encrypted (connection tokens, export destinations) with
    ENCRYPTION_KEY; the keys it was sealed with go in ENCRYPTION_OLD_KEYS. Idempotent: run it
    again after a failure. Exits 1 naming each record no configured key opens."""
    from metasync import db
    from metasync.crypto import TokenCipher
    from metasync.models import rotate_all

    settings = settings_or_exit()
    db.connect(settings.MONGODB_URI)
    cipher = TokenCipher(
        settings.ENCRYPTION_KEY.get_secret_value(),
        [key.get_secret_value() for key in settings.ENCRYPTION_OLD_KEYS],
    )
    kinds = rotate_all(cipher, dry_run=dry_run)
    table = Table(
        "kind",
        "would re-encrypt" if dry_run else "re-encrypted",
        "already current",
        "unreadable",
        title=f"to key {cipher.current_key_id}{' (dry run)' if dry_run else ''}",
    )
    for kind in kinds:
        table.add_row(kind.kind, str(kind.rotated), str(kind.current), str(len(kind.unreadable)))
    print_table(table)
    unreadable = [(kind.kind, record, why) for kind in kinds for record, why in kind.unreadable]
    for name, record, why in unreadable:
        typer.echo(f"unreadable: {name} record {record}: {why}", err=True)
    if unreadable:
        typer.echo(
            f"{len(unreadable)} record(s) no configured key opens: add the key they were "
            "sealed with to ENCRYPTION_OLD_KEYS and run again, or enter those secrets again "
            "(`metasync connections add`, `metasync export enable`). Keep every old key until "
            "this reports none.",
            err=True,
        )
        raise typer.Exit(1)
