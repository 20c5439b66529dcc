"""``metasync console``: the console's users (``CONSOLE_USERS``)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["console_app"]

console_app = typer.Typer(
    help="The operator console (/console of metasync web).", no_args_is_help=True
)


@console_app.command("hash-password")
def hash_password_command(
    user: Annotated[str, typer.Argument(help="The console user's name.")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Asked for.")
    ],
) -> None:
    """Print a ``CONSOLE_USERS`` entry (``user:argon2id-hash``) for ``user``; join several
    entries with ``;``."""
    from metasync.console.auth import hash_password

    if not user.strip() or ":" in user or ";" in user:
        typer.echo("a user name is not empty and has no ':' or ';'", err=True)
        raise typer.Exit(2)
    try:
        typer.echo(f"{user}:{hash_password(password)}")
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
