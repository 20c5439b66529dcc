"""``metasync export``: the mirror into a SQL warehouse (PostgreSQL, DuckDB, Parquet)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from metasync.commands.common import connected_context, console

__all__ = ["export_app"]

export_app = typer.Typer(
    help="The mirror in a SQL warehouse, in Fivetran's Facebook Ads schema.", no_args_is_help=True
)
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant to export.")]


@export_app.command("run")
def run_command(
    tenant: Tenant,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            envvar="METASYNC_EXPORT_URL",
            help="postgresql://..., duckdb:///file.duckdb or parquet:///dir; default: the "
            "tenant's stored destination.",
        ),
    ] = None,
    schema: Annotated[
        str | None, typer.Option(help="Schema (default facebook_ads_<tenant>).")
    ] = None,
    batch_rows: Annotated[int | None, typer.Option(help="Documents per transaction.")] = None,
) -> None:
    """Export what changed since the tenant's last export (the first one exports everything)."""
    from metasync.export import DestinationError, ExportError, export_tenant
    from metasync.export.targets import destination_url, enabled_target

    ctx = connected_context()
    url = to
    if url is None:
        target = enabled_target(tenant)
        if target is None:
            typer.echo(
                f"tenant {tenant} has no destination: pass --to or `export enable`", err=True
            )
            raise typer.Exit(2)
        url = destination_url(ctx.cipher, target)
    try:
        result = export_tenant(
            tenant,
            url,
            schema=schema,
            batch_rows=batch_rows or ctx.settings.EXPORT_BATCH_ROWS,
            lease_seconds=ctx.settings.EXPORT_LEASE_SECONDS,
        )
    except (DestinationError, ExportError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    table = Table("table", "rows changed")
    for name, count in sorted(result.rows.items()):
        table.add_row(name, str(count))
    console.print(f"exported tenant {tenant} to {result.destination}, schema {result.schema}")
    console.print(table)
    if result.deferred:
        console.print(f"left for the next export (a sync is running): {', '.join(result.deferred)}")


@export_app.command("enable")
def enable(
    tenant: Tenant,
    to: Annotated[str, typer.Option("--to", help="The destination URL (stored encrypted).")],
) -> None:
    """Export the tenant after each of its syncs, to ``--to``."""
    from metasync.export import DestinationError
    from metasync.export.targets import set_target

    ctx = connected_context()
    try:
        target = set_target(ctx.cipher, tenant, to)
    except DestinationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(f"tenant {tenant} exports to {target.label} after each sync")


@export_app.command("disable")
def disable(tenant: Tenant) -> None:
    """Stop exporting the tenant after its syncs (its destination is kept)."""
    from metasync.models import ExportTarget

    connected_context()
    changed = ExportTarget.objects(tenant_id=tenant).update(set__enabled=False)
    console.print(f"tenant {tenant}: exports after syncs {'off' if changed else 'were not on'}")


@export_app.command("status")
def status(tenant: Annotated[str | None, typer.Option("--tenant")] = None) -> None:
    """The latest exports: when, where, the outcome, rows changed, the error."""
    from metasync.export.targets import last_runs

    connected_context()
    table = Table("tenant", "destination", "started", "status", "rows changed", "error")
    for run in last_runs(tenant):
        table.add_row(
            run.tenant_id,
            run.destination,
            f"{run.started_at:%Y-%m-%d %H:%M:%S}",
            run.status,
            str(sum((run.rows or {}).values())),
            run.error or "",
        )
    console.print(table)


@export_app.command("currency")
def currency(
    tenant: Tenant,
    code: Annotated[str, typer.Argument(help="EUR, USD, ...; 'none' to stop converting.")],
) -> None:
    """Give the tenant's spend and revenue also in ``code`` (export and API)."""
    from metasync.export.targets import set_currency

    connected_context()
    try:
        set_currency(tenant, None if code.lower() == "none" else code)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(f"tenant {tenant}: reporting currency {code}")


@export_app.command("rates")
def rates(
    url: Annotated[str | None, typer.Option(help="Rates file (default FX_RATES_URL).")] = None,
) -> None:
    """Load daily reference rates (the ECB's file, or one of its shape)."""
    from metasync.export.currency import RatesError, load_rates

    ctx = connected_context()
    source = url or ctx.settings.FX_RATES_URL
    try:
        count = load_rates(source)
    except RatesError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    console.print(f"{count} rates loaded from {source}")
