"""``metasync leads``: the Lead Ads mirror: its pages' access, a sync or backfill, erasure."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from metasync.commands.common import connected_context, print_table

__all__ = ["leads_app"]

leads_app = typer.Typer(
    help="Lead Ads: pages and their access, sync and backfill, erasure.", no_args_is_help=True
)


@leads_app.command("pages")
def pages(tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None) -> None:
    """Each page leads are read from, and whether Meta grants it (``not_granted``: the person
    who connected has not granted ``leads_retrieval`` or ``pages_manage_ads``)."""
    from metasync.models.leads import Lead, LeadForm, LeadPage

    connected_context()
    where = {"tenant_id": tenant} if tenant else {}
    table = Table("tenant", "page", "name", "access", "since", "forms", "leads", "reason")
    for page in LeadPage.objects(**where).order_by("tenant_id", "page_id"):
        scope = {"tenant_id": page.tenant_id, "page_id": page.page_id}
        table.add_row(
            page.tenant_id,
            page.page_id,
            page.name or "",
            page.access,
            f"{page.access_since:%Y-%m-%d %H:%M}" if page.access_since else "",
            str(LeadForm.objects(**scope).count()),
            str(Lead.objects(**scope).count()),
            page.access_reason or "",
        )
    print_table(table, wrap=("reason",))


@leads_app.command("sync")
def sync(
    connection: Annotated[str | None, typer.Option(help="Only this connection id.")] = None,
    full: Annotated[
        bool, typer.Option(help="Read every lead of every form again (a backfill).")
    ] = False,
) -> None:
    """Read the lead forms and new leads of every ACTIVE connection now (``--full``: all)."""
    from metasync.leads.sync import sync_leads
    from metasync.models import ConnectionStatus, MetaConnection

    ctx = connected_context()
    where = {"pk": connection} if connection else {"status": ConnectionStatus.ACTIVE}
    for record in MetaConnection.objects(**where):
        result = sync_leads(ctx, record, full=full)
        refused = f", not granted on page(s) {', '.join(result.not_granted)}"
        typer.echo(
            f"connection {record.pk}: {result.pages} page(s), {result.forms} form(s), "
            f"{result.leads} lead(s) stored{refused if result.not_granted else ''}"
        )


@leads_app.command("subscribe")
def subscribe(
    callback_url: Annotated[str, typer.Option(help="Public URL of /webhooks/meta.")],
) -> None:
    """Subscribe the app to Pages' ``leadgen`` webhooks and each page leads are read from to the
    app (run ``metasync leads sync`` first: it finds the pages and their tokens)."""
    from metasync.graph import MetaAPIError
    from metasync.leads.pages import subscribe_app, subscribe_pages

    ctx = connected_context()
    try:
        subscribe_app(ctx, callback_url)
    except (MetaAPIError, ValueError) as exc:
        typer.echo(f"the app subscription failed: {exc}", err=True)
        raise typer.Exit(1) from None
    outcome = subscribe_pages(ctx)
    for page_id, result in sorted(outcome.items()):
        typer.echo(f"page {page_id}: {result}")
    if any(result != "subscribed" for result in outcome.values()):
        raise typer.Exit(1)


@leads_app.command("erase")
def erase(
    lead: Annotated[
        list[str] | None, typer.Option("--lead", help="A lead id (repeat for several).")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Erase every lead whose e-mail answer is this address.")
    ] = None,
    phone: Annotated[
        str | None, typer.Option(help="Erase every lead whose phone answer is this number.")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's leads.")] = None,
) -> None:
    """Erase leads from MongoDB and record the erasure for every export destination. A person
    is matched by keyed hashes of their e-mail or phone (never stored in clear); the output
    names lead ids only."""
    from metasync.leads.privacy import erase_leads, person_hashes

    if not lead and not email and not phone:
        typer.echo("name --lead, --email or --phone", err=True)
        raise typer.Exit(2)
    ctx = connected_context()
    hashes = person_hashes(ctx.cipher, email=email, phone=phone)
    erasure = erase_leads(tenant_id=tenant, lead_ids=lead or [], hashes=hashes)
    for tenant_id, ids in sorted(erasure.lead_ids.items()):
        typer.echo(f"tenant {tenant_id}: erased lead(s) {', '.join(ids)}")
    typer.echo(f"{erasure.count} lead(s) erased; the next export removes them from the warehouse")
