"""``metasync reports`` (prebuilt and custom reports per tenant) and ``metasync verify``
(reconciliation outcomes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from metasync.commands.common import console, print_table, tenant_context
from metasync.reports.definitions import BASE_FIELDS, ReportDefinition
from metasync.reports.validation import ReportError

__all__ = ["app", "verify"]

app = typer.Typer(help="Reports: breakdowns, windows, time grains.", no_args_is_help=True)

Tenant = Annotated[str, typer.Option("--tenant", help="The tenant the report belongs to.")]


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _change(tenant: str, action: Callable[[], object], done: str) -> None:
    """Connect, make one change of the tenant's reports, and say so; an unknown tenant or a
    refusal exits 2 with its reason."""
    tenant_context(tenant)
    try:
        action()
    except ReportError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(done)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits and _.")],
    tenant: Tenant,
    level: Annotated[str, typer.Option(help="account, campaign, adset or ad.")] = "ad",
    fields: Annotated[str, typer.Option(help="Comma-separated insights fields.")] = ",".join(
        BASE_FIELDS
    ),
    breakdowns: Annotated[str, typer.Option(help="Comma-separated breakdowns.")] = "",
    action_breakdowns: Annotated[str, typer.Option(help="action_type or action_device.")] = (
        "action_type"
    ),
    windows: Annotated[str, typer.Option(help="Attribution windows, e.g. 1d_click,7d_click.")] = "",
    increment: Annotated[str, typer.Option(help="1, 7, monthly or all_days.")] = "1",
    lookback: Annotated[int, typer.Option(help="Days read by lookback runs (0: lifetime).")] = 28,
) -> None:
    """Add a custom report for a tenant (validated against Meta's rules before any call)."""
    from metasync.reports.store import add_custom

    report = ReportDefinition(
        name=name,
        level=level,
        fields=_names(fields),
        breakdowns=_names(breakdowns),
        action_breakdowns=_names(action_breakdowns) or ("action_type",),
        attribution_windows=_names(windows),
        time_increment=increment,
        lookback_days=lookback,
    )
    _change(
        tenant,
        lambda: add_custom(tenant, report),
        f"report {name} added for tenant {tenant} (enabled)",
    )


@app.command("enable")
def enable(name: str, tenant: Tenant) -> None:
    """Switch a prebuilt (or custom) report on for a tenant."""
    from metasync.reports.store import set_enabled

    _change(
        tenant,
        lambda: set_enabled(tenant, name, True),
        f"report {name} enabled for tenant {tenant}",
    )


@app.command("remove")
def remove(name: str, tenant: Tenant) -> None:
    """Remove a custom report, or switch a prebuilt one off (rows already read stay)."""
    from metasync.reports.store import remove as remove_report

    _change(
        tenant, lambda: remove_report(tenant, name), f"report {name} removed for tenant {tenant}"
    )


@app.command("list")
def list_reports(tenant: Tenant) -> None:
    """Every prebuilt report and the tenant's custom ones, with what each reads."""
    from metasync.reports.store import listing

    tenant_context(tenant)
    table = Table("name", "kind", "enabled", "level", "breakdowns", "increment", "lookback")
    for report, enabled, custom in listing(tenant):
        table.add_row(
            report.name,
            "custom" if custom else "prebuilt",
            "yes" if enabled else "no",
            report.level,
            ",".join(report.breakdowns) or "-",
            report.time_increment,
            str(report.lookback_days),
        )
    print_table(table, wrap=("breakdowns",))


@app.command("show")
def show(name: str, tenant: Tenant) -> None:
    """One report's definition as JSON."""
    from metasync.reports.store import listing

    tenant_context(tenant)
    for report, enabled, custom in listing(tenant):
        if report.name == name:
            typer.echo(json.dumps({**report.as_dict(), "enabled": enabled, "custom": custom}))
            return
    typer.echo(f"tenant {tenant} has no report named {name!r}", err=True)
    raise typer.Exit(1)


@app.command("access")
def access(tenant: Tenant) -> None:
    """Per account, the opt-in reports Meta withholds ("not opted in") or answers, and the
    account's Ads Insights features as Meta's Feature Settings API states them."""
    from metasync.models import AccountFeatures, ReportAccess, ReportAccessState

    tenant_context(tenant)
    table = Table("account", "report", "state", "since", "last checked", "evidence")
    counts: dict[str, int] = {}
    for row in ReportAccess.objects(tenant_id=tenant).order_by("account_id", "report"):
        withheld = row.state == ReportAccessState.NOT_OPTED_IN
        counts[row.state] = counts.get(row.state, 0) + 1
        table.add_row(
            row.account_id,
            row.report,
            "not opted in" if withheld else "available",
            f"{row.since:%Y-%m-%d %H:%M}" if row.since else "-",
            f"{row.checked_at:%Y-%m-%d %H:%M}" if row.checked_at else "-",
            _access_evidence(row, withheld),
        )
    if table.row_count:
        print_table(table, wrap=("evidence",))
        console.print(
            f"{counts.get(ReportAccessState.NOT_OPTED_IN, 0)} account-reports not opted in "
            "(Meta's Feature Settings API says so, read daily; for accounts where it cannot be "
            "read, inferred from empty answers and asked again every META_OPT_IN_RECHECK_HOURS; "
            "metasync reports enable-feature enables one)"
        )
    else:  # nothing synced for it yet: a line, not an empty grid
        console.print(f"no report access recorded for tenant {tenant}", highlight=False)
    features = Table("account", "feature", "status", "in effect from", "read", "error")
    for account in AccountFeatures.objects(tenant_id=tenant).order_by("account_id"):
        entries = sorted((account.features or {}).items()) or [("-", {})]
        for name, entry in entries:
            effective = entry.get("effective_at")
            features.add_row(
                account.account_id,
                name,
                str(entry.get("status", "-")).replace("_", " "),
                f"{effective:%Y-%m-%d %H:%M}" if effective else "-",
                f"{account.read_at:%Y-%m-%d %H:%M}" if account.read_at else "never",
                account.error or "-",
            )
    if features.row_count:
        print_table(features, wrap=("error",))


def _access_evidence(row: object, withheld: bool) -> str:
    """Why an account's report is (not) answered: Meta's feature state, or the inference."""
    if getattr(row, "source", None) == "feature_settings":
        status = str(getattr(row, "feature_status", "") or "").replace("_", " ")
        return f"feature {getattr(row, 'feature', '')} {status} (Meta's Feature Settings API)"
    if not withheld:
        return "-"
    return (
        f"{getattr(row, 'delivered_impressions', 0)} impressions "
        f"{getattr(row, 'checked_since', '')}..{getattr(row, 'checked_until', '')}, no rows"
    )


@app.command("enable-feature")
def enable_feature_command(
    feature: Annotated[
        str,
        typer.Argument(
            help="comscore, frequency_value, impression_device or time_of_day_viewer_tz."
        ),
    ],
    tenant: Tenant,
    account: Annotated[str, typer.Option("--account", help="The ad account (act_ optional).")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask for confirmation (for scripts).")
    ] = False,
    actor: Annotated[
        str, typer.Option("--as", help="Who enables it, for the log and the record.")
    ] = "cli",
) -> None:
    """Enable an Ads Insights feature for an ad account through Meta's Feature Settings API.
    Meta cannot undo it, and it takes up to 24 hours to take effect."""
    from metasync.graph import MetaAPIError
    from metasync.models import ConnectionStatus, MetaConnection
    from metasync.sync.features import FEATURES, enable_feature

    ctx = tenant_context(tenant)
    account_id = account.removeprefix("act_")
    if feature not in FEATURES:
        typer.echo(f"error: unknown feature {feature!r}; one of {', '.join(FEATURES)}", err=True)
        raise typer.Exit(2)
    connection = MetaConnection.objects(
        tenant_id=tenant, status=ConnectionStatus.ACTIVE, ad_account_ids=account_id
    ).first()
    if connection is None:
        typer.echo(f"error: no active connection of {tenant} reaches act_{account_id}", err=True)
        raise typer.Exit(2)
    warning = (
        f"Enable {feature} for act_{account_id}? Meta's Feature Settings API cannot disable a "
        "feature once enabled: this cannot be undone, and it takes up to 24 hours to take effect."
    )
    if not yes and not typer.confirm(warning, default=False):
        console.print("nothing enabled")
        raise typer.Exit(1)
    try:
        read = enable_feature(ctx, connection, account_id, feature, actor)
    except MetaAPIError as exc:
        typer.echo(f"error: Meta refused: {exc.message}", err=True)
        raise typer.Exit(1) from None
    status = read.states.get(feature, "unknown").replace("_", " ")
    console.print(
        f"{feature} enabled for act_{account_id}: {status} (up to 24 hours; metasync reads "
        "it again 24 hours after the enabling and the gated reports then start syncing)"
    )


def verify(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD.")] = None,
    fail_on_mismatch: Annotated[
        bool, typer.Option("--fail-on-mismatch", help="Exit 1 when any day did not reconcile.")
    ] = False,
    show_all: Annotated[bool, typer.Option("--all", help="List reconciled days too.")] = False,
) -> None:
    """Reconciliation by account and day: ad rows summed against the account row."""
    from metasync.models import AdAccount, Reconciliation

    for label, value in (("--since", since), ("--until", until)):
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                typer.echo(f"{label} must be a date (YYYY-MM-DD), not {value!r}", err=True)
                raise typer.Exit(2) from None
    tenant_context(tenant)
    query = Reconciliation.objects
    if tenant:
        query = query.filter(tenant_id=tenant)
    if since:
        query = query.filter(date__gte=since)
    if until:
        query = query.filter(date__lte=until)
    accounts = {
        (a.tenant_id, a.account_id): a
        for a in AdAccount.objects.only("tenant_id", "account_id", "name", "currency")
    }
    table = Table("tenant", "account", "day", "status", "spend ads/account", "worst difference")
    counts: dict[str, int] = {}
    for outcome in query.order_by("tenant_id", "account_id", "date"):
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if outcome.status == "ok" and not show_all:
            continue
        worst = max((outcome.differences or {}).values(), default=0.0)
        account = accounts.get((outcome.tenant_id, outcome.account_id))
        name = f"{account.name} " if account is not None and account.name else ""
        currency = f" {account.currency}" if account is not None and account.currency else ""
        table.add_row(
            outcome.tenant_id,
            f"{name}(act_{outcome.account_id})" if name else f"act_{outcome.account_id}",
            outcome.date,
            outcome.status,
            f"{outcome.ads.get('spend', '-')} / {outcome.account.get('spend', '-')}{currency}",
            f"{worst:.2f} %",
        )
    print_table(table, wrap=("account",))
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing"
    console.print(f"account-days checked: {summary}")
    if fail_on_mismatch and (counts.get("mismatch") or counts.get("missing")):
        raise typer.Exit(1)
