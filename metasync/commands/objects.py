"""``metasync conversions`` (what a tenant counts as a conversion) and ``metasync history``
(who changed an object and when: Meta's activity log beside metasync's own change log)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from metasync.commands.common import console, print_table, tenant_context

__all__ = ["conversions_app", "history"]

conversions_app = typer.Typer(
    help="What a tenant counts as a conversion: action types or a custom conversion.",
    no_args_is_help=True,
)
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant.")]


@conversions_app.command("list")
def list_conversions(tenant: Tenant) -> None:
    """The tenant's custom conversions and the action types it counts now."""
    from metasync.models import CustomConversion
    from metasync.sync.conversions import conversion_types, custom_action_type

    ctx = tenant_context(tenant)
    counted = conversion_types(ctx, tenant)
    table = Table("custom conversion", "name", "event", "state", "counted")
    for found in CustomConversion.objects(tenant_id=tenant).order_by("account_id", "meta_id"):
        state = "deleted" if found.deleted_at else "archived" if found.is_archived else "live"
        used = "yes" if custom_action_type(found.meta_id) in counted else ""
        table.add_row(found.meta_id, found.name or "", found.custom_event_type or "", state, used)
    print_table(table, wrap=("name",))
    console.print(f"counted as conversions, first found wins: {', '.join(counted)}")


@conversions_app.command("use")
def use(
    tenant: Tenant,
    custom_conversion: Annotated[
        str | None, typer.Option(help="Count this custom conversion's events.")
    ] = None,
    action_types: Annotated[
        str | None, typer.Option(help="Comma-separated action types, first found wins.")
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Back to META_CONVERSION_ACTION_TYPES.")
    ] = False,
) -> None:
    """Choose what the tenant counts as conversions (one of the three options)."""
    from metasync.sync.conversions import (
        ConversionChoiceError,
        set_conversion_types,
        use_custom_conversion,
    )

    chosen = [custom_conversion is not None, action_types is not None, default]
    if sum(chosen) != 1:
        typer.echo("give exactly one of --custom-conversion, --action-types, --default", err=True)
        raise typer.Exit(2)
    tenant_context(tenant)
    try:
        if custom_conversion is not None:
            types = use_custom_conversion(tenant, custom_conversion)
        else:
            types = set_conversion_types(tenant, (action_types or "").split(","))
    except ConversionChoiceError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(
        f"tenant {tenant} counts {', '.join(types) or 'META_CONVERSION_ACTION_TYPES'} "
        "as conversions from its next performance sync"
    )


def history(
    tenant: Tenant,
    object_id: Annotated[str, typer.Option("--object", help="A campaign, ad set or ad id.")],
    limit: Annotated[int, typer.Option(help="At most this many entries of each log.")] = 50,
) -> None:
    """Who changed an object and when (Meta's activity log) and the status, budget and bid
    values metasync saw change (its own change log), newest first."""
    from metasync.models import AdActivity, ChangeRecord

    tenant_context(tenant)
    activities = Table("event time (UTC)", "event", "by", "old", "new", title="Meta's activity log")
    found = AdActivity.objects(tenant_id=tenant, object_id=object_id).order_by("-event_time")
    for entry in found.limit(limit):
        activities.add_row(
            f"{entry.event_time:%Y-%m-%d %H:%M:%S}" if entry.event_time else "",
            entry.translated_event_type or entry.event_type or "",
            entry.actor_name or entry.application_name or "",
            str(entry.old_value if entry.old_value is not None else ""),
            str(entry.new_value if entry.new_value is not None else ""),
        )
    changes = Table("seen at (UTC)", "field", "old", "new", title="Values metasync saw change")
    records = ChangeRecord.objects(tenant_id=tenant, object_id=object_id).order_by("-seen_at")
    for record in records.limit(limit):
        changes.add_row(
            f"{record.seen_at:%Y-%m-%d %H:%M:%S}",
            record.field,
            record.old_value or "",
            record.new_value or "",
        )
    print_table(
        activities,
        wrap=("event", "by", "old", "new"),
        empty=f"Meta's activity log: no entries for {object_id} of tenant {tenant}",
    )
    print_table(
        changes,
        wrap=("old", "new"),
        empty=f"values metasync saw change: none for {object_id} of tenant {tenant}",
    )
