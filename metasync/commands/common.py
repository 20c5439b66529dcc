"""Helpers every command shares: settings, a connected sync context, a console."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from metasync.config import (
    ConfigurationError,
    Settings,
    api_version_warning,
    environment_value,
    load_settings,
)
from metasync.logs import configure_logging
from metasync.sync.context import SyncContext

__all__ = ["connected_context", "console", "settings_or_exit"]


def _width() -> int | None:
    """A terminal sizes itself; piped output gets COLUMNS, else room for ids and statistics."""
    if sys.stdout.isatty():
        return None
    columns = environment_value("COLUMNS")
    return int(columns) if columns and columns.isdigit() else 200


console = Console(width=_width())


def settings_or_exit() -> Settings:
    """The validated settings; a configuration error ends the command with its message, and a
    Marketing API version near its expiry is warned about on standard error."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.LOG_LEVEL)
    warning = api_version_warning(settings)
    if warning:
        typer.echo(f"warning: META_API_VERSION: {warning}", err=True)
    return settings


def connected_context() -> SyncContext:
    """Settings, MongoDB connected (indexes ensured) and a SyncContext."""
    from metasync import db

    settings = settings_or_exit()
    db.connect(settings.MONGODB_URI)
    db.ensure_indexes(settings.RUN_RETENTION_DAYS)
    return SyncContext.from_settings(settings)
