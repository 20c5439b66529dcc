"""``metasync export``: the mirror into a SQL warehouse (PostgreSQL, DuckDB, Parquet)."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.table import Table

from metasync.commands.common import connected_context, console, print_table, tenant_context
from metasync.commands.currency import rebuild_with_progress, show_gaps, show_rebuilt

__all__ = ["export_app"]

export_app = typer.Typer(
    help="The mirror in a SQL warehouse, in Fivetran's Facebook Ads schema.", no_args_is_help=True
)
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant to export.")]
URL_HELP = (
    "postgresql://..., duckdb:///file.duckdb, parquet:///dir, "
    "snowflake://account/database?user=...&secret=<file> or bigquery://project/location; "
    "'-' reads it from standard input (a URL on the command line stays in the shell's "
    "history and shows in `ps`)"
)


def _destination(to: str | None, to_env: str | None) -> str | None:
    """The destination URL from ``--to`` (``-``: standard input) or the variable ``--to-env``
    names; None when neither is given. Exits 2 naming the problem otherwise."""
    from metasync.config import environment_value

    if to is not None and to_env is not None:
        typer.echo("give the destination once: --to or --to-env, not both", err=True)
        raise typer.Exit(2)
    if to_env is not None:
        value = environment_value(to_env)
        if value is None:
            typer.echo(f"the environment variable {to_env} is not set or empty", err=True)
            raise typer.Exit(2)
        return value.strip()
    if to == "-":
        value = sys.stdin.readline().strip()
        if not value:
            typer.echo("--to -: standard input held no destination URL", err=True)
            raise typer.Exit(2)
        return value
    return to


def _one_line(text: str) -> str:
    """An error as one line (a driver's message may span several)."""
    return " ".join(text.split())


@export_app.command("run")
def run_command(
    tenant: Tenant,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            envvar="METASYNC_EXPORT_URL",
            help=f"{URL_HELP}; default: the tenant's stored destination.",
        ),
    ] = None,
    to_env: Annotated[
        str | None,
        typer.Option("--to-env", help="The environment variable holding the destination URL."),
    ] = None,
    schema: Annotated[
        str | None, typer.Option(help="Schema (default facebook_ads_<tenant>).")
    ] = None,
    batch_rows: Annotated[int | None, typer.Option(help="Documents per transaction.")] = None,
) -> None:
    """Export what changed since the tenant's last export (the first one exports everything)."""
    from metasync.export import DestinationError, ExportError, export_tenant
    from metasync.export.targets import destination_url, enabled_target

    url = _destination(to, to_env)
    ctx = tenant_context(tenant)
    # the command prints a failure itself, once and on one line; the log would repeat it
    logging.getLogger("metasync.export.run").setLevel(logging.ERROR)
    if url is None:
        target = enabled_target(tenant)
        if target is None:
            typer.echo(
                f"tenant {tenant} has no destination: pass --to or `export enable`", err=True
            )
            raise typer.Exit(2)
        url = destination_url(ctx.cipher, target)
    try:  # the export resumes a waiting rebuild of past days first
        result = export_tenant(
            tenant,
            url,
            schema=schema,
            batch_rows=batch_rows or ctx.settings.EXPORT_BATCH_ROWS,
            lease_seconds=ctx.settings.EXPORT_LEASE_SECONDS,
        )
    except DestinationError as exc:
        typer.echo(_one_line(str(exc)), err=True)
        raise typer.Exit(2) from None
    except ExportError as exc:
        typer.echo(_one_line(str(exc)), err=True)
        raise typer.Exit(1) from None
    table = Table("table", "rows changed")
    for name, count in sorted(result.rows.items()):
        table.add_row(name, str(count))
    console.print(f"exported tenant {tenant} to {result.destination}, schema {result.schema}")
    print_table(table)
    if result.rejected_count:
        typer.echo(
            f"{result.rejected_count} rows not written (the destination cannot hold them): "
            + "; ".join(result.rejected),
            err=True,
        )
    show_rebuilt(tenant, result.rebuilt)
    show_gaps(tenant, result.unconverted)


@export_app.command("enable")
def enable(
    tenant: Tenant,
    to: Annotated[str | None, typer.Option("--to", help=f"{URL_HELP}. Stored encrypted.")] = None,
    to_env: Annotated[
        str | None,
        typer.Option("--to-env", help="The environment variable holding the destination URL."),
    ] = None,
) -> None:
    """Export the tenant after each of its syncs, to ``--to`` (or ``--to-env``)."""
    from metasync.export import DestinationError
    from metasync.export.targets import set_target

    url = _destination(to, to_env)
    if url is None:
        typer.echo(
            "name the destination: --to URL, --to - (standard input) or --to-env VAR", err=True
        )
        raise typer.Exit(2)
    ctx = tenant_context(tenant)
    try:
        target = set_target(ctx.cipher, tenant, url)
    except DestinationError as exc:
        typer.echo(_one_line(str(exc)), err=True)
        raise typer.Exit(2) from None
    console.print(f"tenant {tenant} exports to {target.label} after each sync")


@export_app.command("disable")
def disable(tenant: Tenant) -> None:
    """Stop exporting the tenant after its syncs (its destination is kept)."""
    from metasync.models import ExportTarget

    tenant_context(tenant)
    changed = ExportTarget.objects(tenant_id=tenant).update(set__enabled=False)
    console.print(f"tenant {tenant}: exports after syncs {'off' if changed else 'were not on'}")


@export_app.command("status")
def status(tenant: Annotated[str | None, typer.Option("--tenant")] = None) -> None:
    """The latest exports: when, where, the outcome, rows changed, the error."""
    from metasync.export.targets import last_runs

    tenant_context(tenant)
    table = Table(
        "tenant", "destination", "started", "status", "rows changed", "rows not written", "error"
    )
    for run in last_runs(tenant):
        table.add_row(
            run.tenant_id,
            run.destination,
            f"{run.started_at:%Y-%m-%d %H:%M:%S}",
            run.status,
            str(sum((run.rows or {}).values())),
            "; ".join([str(run.rejected_count or 0), *(run.rejected or [])]),
            run.error or "",
        )
    print_table(table, wrap=("rows not written", "error"))


@export_app.command("currency")
def currency(
    tenant: Tenant,
    code: Annotated[str, typer.Argument(help="EUR, USD, ...; 'none' to stop converting.")],
) -> None:
    """Give the tenant's spend and revenue also in ``code`` (export and API)."""
    from metasync.export.currency import gaps
    from metasync.export.targets import set_currency

    tenant_context(tenant)
    try:
        set_currency(tenant, None if code.lower() == "none" else code)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(f"tenant {tenant}: reporting currency {code}")
    rebuild_with_progress(tenant)
    show_gaps(tenant, gaps(tenant))


@export_app.command("rates")
def rates(
    url: Annotated[
        str | None,
        typer.Option(
            "--from",
            "--url",
            help="A local eurofxref-hist.zip/.csv or an http(s) URL (default FX_RATES_URL).",
        ),
    ] = None,
) -> None:
    """Load daily reference rates (the ECB's file, or one of its shape); the days they change
    are exported again for the tenants converting with them."""
    from metasync.export.currency import RatesError, gaps, load_rates
    from metasync.models import REBUILT, CurrencyRebuild

    ctx = connected_context()
    source = url or ctx.settings.FX_RATES_URL
    try:
        loaded = load_rates(source)
    except RatesError as exc:
        typer.echo(_one_line(str(exc)), err=True)
        raise typer.Exit(1) from None
    console.print(f"{loaded.rows} rates loaded from {source} ({loaded.changed} new or changed)")
    for waiting in CurrencyRebuild.objects(next_day__lt=REBUILT).only("tenant_id"):
        rebuild_with_progress(waiting.tenant_id)
        show_gaps(waiting.tenant_id, gaps(waiting.tenant_id))
