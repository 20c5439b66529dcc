"""Helpers every command shares: settings (from the environment or a settings file), a
connected sync context, the check that a tenant exists, and a console whose tables never cut an
id or a URL."""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from metasync.config import (
    ConfigurationError,
    Settings,
    api_version_warning,
    environment_value,
    load_settings,
)
from metasync.logs import configure_logging
from metasync.settings_file import (
    SettingsFileError,
    load_into_environment,
    readable_by_others,
)
from metasync.sync.context import SyncContext

__all__ = [
    "connected_context",
    "console",
    "known_tenants",
    "print_table",
    "require_tenant",
    "settings_or_exit",
    "tenant_context",
    "use_settings_file",
]


def _width() -> int | None:
    """A terminal sizes itself; piped output gets COLUMNS, else room for ids and statistics."""
    if sys.stdout.isatty():
        return None
    columns = environment_value("COLUMNS")
    return int(columns) if columns and columns.isdigit() else 200


console = Console(width=_width(), soft_wrap=True)  # a line of text is never wrapped or cut


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


def use_settings_file(path: Path) -> None:
    """Load ``path`` (``--env-file``) into the environment before any setting is read; a
    missing or unreadable file ends the command (exit 2). Warns, naming them, about variables
    the environment already sets otherwise (they keep the environment's value) and about a file
    others may read."""
    try:
        kept = load_into_environment(path)
    except SettingsFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if kept:
        typer.echo(
            f"warning: the environment sets {', '.join(kept)} otherwise than {path}; the "
            "environment's value is used (unset them to use the file's)",
            err=True,
        )
    if readable_by_others(path):
        typer.echo(
            f"warning: {path} holds secrets and others may read it: chmod 600 {path}", err=True
        )


def known_tenants() -> list[str]:
    """Every tenant metasync knows: those with a connection or with mirrored ad accounts."""
    from metasync.models import AdAccount, MetaConnection

    found = set(MetaConnection.objects.distinct("tenant_id"))
    return sorted(found | set(AdAccount.objects.distinct("tenant_id")))


def require_tenant(tenant: str) -> None:
    """End the command (exit 2) when ``tenant`` is not one metasync knows, listing those it
    does: a mistyped tenant otherwise reads as a tenant with nothing in it."""
    known = known_tenants()
    if tenant in known:
        return
    listed = ", ".join(known) if known else "none yet (metasync connections add --tenant T)"
    typer.echo(
        f"error: no tenant {tenant!r}; known tenants: {listed} (metasync tenants shows them)",
        err=True,
    )
    raise typer.Exit(2)


def tenant_context(tenant: str | None) -> SyncContext:
    """:func:`connected_context`, then :func:`require_tenant` when a tenant is named."""
    ctx = connected_context()
    if tenant is not None:
        require_tenant(tenant)
    return ctx


def print_table(table: Table, wrap: Collection[str] = (), empty: str | None = None) -> None:
    """Print ``table`` without cutting or folding a value: only the columns named in ``wrap``
    (free text: reasons, errors) wrap between words; every other column (ids, URLs, money,
    dates) keeps each value on one line. When the terminal is too narrow for that, the table is
    printed wider than the terminal (which folds the lines on screen; a copied id is whole).
    A table without rows is printed as the line ``empty`` ("no recommendations for tenant
    acme") when one is given: an empty grid does not say that there is nothing."""
    if empty is not None and not table.row_count:
        console.print(empty, highlight=False, soft_wrap=True)
        return
    for column in table.columns:
        column.no_wrap = str(column.header) not in wrap
        if not column.no_wrap:  # squeezed below its longest word, a word folds: never "…"
            column.overflow = "fold"
    wide = console.options.update_width(10_000)
    natural = Measurement.get(console, wide, table).maximum
    bounds: dict[int, tuple[int, int]] = {}  # wrapped column: (longest word, widest value)
    for index, column in enumerate(table.columns):
        if column.no_wrap:
            continue
        cells = [column.header, *column.cells]
        widest = max(Measurement.get(console, wide, cell).maximum for cell in cells)
        longest_word = max(Measurement.get(console, wide, cell).minimum for cell in cells)
        bounds[index] = (longest_word, widest)
    needed = natural - sum(widest - word for word, widest in bounds.values())
    if natural > console.width:
        _share_room(table, bounds, max(console.width, needed) - (needed - _sum_words(bounds)))
    if needed <= console.width:
        console.print(table)
        return
    width = console.width
    console.width = needed
    try:
        console.print(table, crop=False)
    finally:
        console.width = width


def _sum_words(bounds: dict[int, tuple[int, int]]) -> int:
    return sum(word for word, _ in bounds.values())


def _share_room(table: Table, bounds: dict[int, tuple[int, int]], room: int) -> None:
    """Fix the widths of the wrapped columns so they share ``room`` characters: each gets at
    least its longest word, the rest in proportion to what it lacks of its widest value.
    Rich's own squeeze narrows the widest columns evenly, which folded an id in one column
    ("23850000001000 / 112") while another still had room to wrap."""
    spare = room - _sum_words(bounds)
    lacking = sum(widest - word for word, widest in bounds.values())
    for index, (word, widest) in bounds.items():
        extra = spare * (widest - word) // lacking if lacking > 0 and spare > 0 else 0
        table.columns[index].width = min(widest, word + extra)
