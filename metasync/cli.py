"""The ``metasync`` command line."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from metasync import __version__
from metasync.config import ConfigurationError, Settings, load_settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="metasync",
    help="Keep a MongoDB mirror of Meta ad accounts for many tenants.",
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="MongoDB housekeeping.", no_args_is_help=True)
keys_app = typer.Typer(help="Token encryption keys.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command()
def version() -> None:
    """Print metasync's version."""
    typer.echo(__version__)


@config_app.command("check")
def config_check() -> None:
    """Validate the environment; print each variable's state (never a secret's value)."""
    settings = _settings()
    for name in Settings.model_fields:
        value = getattr(settings, name)
        shown = "set (secret)" if "SECRET" in name or "KEY" in name or "TOKEN" in name else value
        if name in {"MONGODB_URI", "REDIS_URL"}:
            shown = "set"
        typer.echo(f"{name}: {shown}")


@db_app.command("init")
def db_init() -> None:
    """Create every collection's indexes (unique natural keys included). Idempotent."""
    from metasync import db

    settings = _settings()
    db.connect(settings.MONGODB_URI)
    db.ensure_indexes()
    typer.echo("indexes are in place")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random ENCRYPTION_KEY (64 hex characters) to standard output."""
    typer.echo(secrets.token_hex(32))


@keys_app.command("rotate")
def keys_rotate(
    dry_run: Annotated[bool, typer.Option(help="Only count what would be re-encrypted.")] = False,
) -> None:
    """Re-encrypt stored tokens with ENCRYPTION_KEY (old keys go in ENCRYPTION_OLD_KEYS)."""
    from metasync import db
    from metasync.crypto import TokenCipher
    from metasync.models import MetaConnection, rotate_connection_tokens

    settings = _settings()
    db.connect(settings.MONGODB_URI)
    cipher = TokenCipher(
        settings.ENCRYPTION_KEY.get_secret_value(),
        [key.get_secret_value() for key in settings.ENCRYPTION_OLD_KEYS],
    )
    if dry_run:
        stale = MetaConnection.objects(token_key_id__ne=cipher.current_key_id).count()
        typer.echo(f"{stale} connection(s) would be re-encrypted")
        return
    report = rotate_connection_tokens(cipher)
    typer.echo(f"re-encrypted {report.rotated}, already current {report.current}")
    for record_id, error in report.failed:
        typer.echo(f"failed {record_id}: {error}", err=True)
    if report.failed:
        raise typer.Exit(1)


def main() -> None:
    """Console entry point."""
    app()
