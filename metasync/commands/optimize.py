"""``metasync rules`` (a tenant's optimization rules) and ``metasync recommendations`` (what they
proposed, and an operator's approval or rejection)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from metasync.commands.common import console, print_table, tenant_context

if TYPE_CHECKING:
    from metasync.models import Recommendation
    from metasync.sync.context import SyncContext

__all__ = ["recommendations_app", "rules_app"]

rules_app = typer.Typer(help="A tenant's optimization rules and mode.", no_args_is_help=True)
recommendations_app = typer.Typer(
    help="What the optimization rules proposed, with their evidence.", no_args_is_help=True
)
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant.")]


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


@rules_app.command("set")
def set_rules_command(
    tenant: Tenant,
    path: Annotated[Path, typer.Argument(help="A YAML file of rules.", exists=True)],
) -> None:
    """Validate and store the tenant's rules (every problem is named; nothing is stored then)."""
    from metasync.optimize.rules import RuleError
    from metasync.optimize.settings import set_rules

    tenant_context(tenant)
    try:
        rules = set_rules(tenant, path.read_text(encoding="utf-8"), _operator())
    except RuleError as exc:
        typer.echo(f"{path}: {exc}", err=True)
        raise typer.Exit(2) from None
    console.print(
        f"tenant {tenant}: {len(rules)} rules stored ({', '.join(r.label for r in rules)})"
    )


@rules_app.command("mode")
def mode_command(
    tenant: Tenant,
    mode: Annotated[str, typer.Argument(help="off, recommend or apply.")],
) -> None:
    """Set the tenant's optimizer mode."""
    from metasync.optimize.settings import set_mode

    tenant_context(tenant)
    try:
        set_mode(tenant, mode, _operator())
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(f"tenant {tenant}: optimizer {mode}")


@rules_app.command("guards")
def guards_command(
    tenant: Tenant,
    max_actions_per_day: Annotated[
        int | None, typer.Option(help="Writes per ad account per UTC day (default 10).")
    ] = None,
    max_budget_increase: Annotated[
        float | None, typer.Option(help="Largest raise of one action, a fraction (0.2).")
    ] = None,
    quiet_hours: Annotated[
        int | None, typer.Option(help="Leave an entity alone this long after a change (72).")
    ] = None,
    proposal_max_age_hours: Annotated[
        int | None, typer.Option(help="A proposal older than this cannot be approved (72).")
    ] = None,
) -> None:
    """Show or change the guards of the tenant's write-back."""
    from metasync.optimize.settings import set_guards

    tenant_context(tenant)
    try:
        found = set_guards(
            tenant,
            _operator(),
            max_actions_per_account_day=max_actions_per_day,
            max_budget_increase=max_budget_increase,
            quiet_hours=quiet_hours,
            proposal_max_age_hours=proposal_max_age_hours,
        )
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(
        f"tenant {tenant}: at most {found.max_actions_per_account_day} actions per account a "
        f"day, raises capped at {found.max_budget_increase:.0%}, {found.quiet_hours} quiet "
        f"hours, proposals approvable for {found.proposal_max_age_hours} hours"
    )


@rules_app.command("list")
def list_rules(tenant: Tenant) -> None:
    """The tenant's mode and rules with every parameter (defaults filled in)."""
    from metasync.models import OptimizerSettings
    from metasync.optimize.rules import parse_rules

    tenant_context(tenant)
    settings = OptimizerSettings.objects(tenant_id=tenant).first()
    if settings is None:
        console.print(f"tenant {tenant}: no rules (mode recommend)")
        return
    table = Table("rule", "kind", "parameters")
    for rule in parse_rules(settings.rules_yaml):
        params = rule.model_dump(exclude={"kind", "name"})
        table.add_row(rule.label, rule.kind, parameters_text(rule.kind, params))
    console.print(f"tenant {tenant}: mode {settings.mode}")
    if settings.evaluation_error:
        console.print(
            f"[red]the last evaluation failed at {settings.evaluation_failed_at}: "
            f"{settings.evaluation_error}[/red]"
        )
    print_table(table, wrap=("parameters",), empty=f"tenant {tenant}: no rules")


@rules_app.command("evaluate")
def evaluate_command(tenant: Tenant) -> None:
    """Evaluate the tenant's rules on the mirror now and print what a rule lacked to decide. In
    apply mode, apply what they propose (within the guards), saying what was applied and why
    the rest was not; exits 1 when an apply failed."""
    from metasync.models import OptimizerSettings
    from metasync.optimize.evaluate import evaluate_tenant
    from metasync.optimize.rules import RuleError

    ctx = tenant_context(tenant)
    try:
        result = evaluate_tenant(tenant)
    except RuleError as exc:
        typer.echo(f"tenant {tenant}: the stored rules cannot be evaluated: {exc}", err=True)
        raise typer.Exit(2) from None
    if result.skipped:
        console.print(f"tenant {tenant}: nothing evaluated ({result.skipped})")
        return
    held = ", ".join(f"{n} {why}" for why, n in sorted(result.held_back.items())) or "none"
    console.print(
        f"tenant {tenant}: {len(result.proposed)} new recommendations, {result.known} already "
        f"proposed; held back: {held}"
    )
    for note in result.notes:
        typer.echo(f"note: {note}")  # plain: a note names a command to paste
    settings = OptimizerSettings.objects(tenant_id=tenant).first()
    if settings is None or settings.mode != "apply":
        typer.echo(
            f"mode {settings.mode if settings else 'recommend'}: nothing applied; approve with "
            f"metasync recommendations approve --tenant {tenant} ID"
        )
        return
    if not apply_proposals(ctx, tenant, result.proposed + result.confirmed):
        raise typer.Exit(1)


@rules_app.command("backtest")
def backtest_command(
    tenant: Tenant,
    days: Annotated[int, typer.Option(min=1, max=365, help="Days to replay.")] = 30,
) -> None:
    """Replay the tenant's rules day by day over the mirror: what they would have done, and
    the spend on ads they would have paused from the day they would have, per currency."""
    from metasync.optimize.backtest import backtest
    from metasync.optimize.money import format_money
    from metasync.optimize.rules import RuleError

    tenant_context(tenant)
    try:
        result = backtest(tenant, days)
    except RuleError as exc:
        typer.echo(f"tenant {tenant}: the stored rules cannot be replayed: {exc}", err=True)
        raise typer.Exit(2) from None
    table = Table("day", "rule", "entity", "action", "change", "spend from then")
    for action in result.actions:
        table.add_row(
            action.day,
            action.rule,
            f"{action.level} {action.entity_id}",
            action.action,
            change_text(action.change, action.currency),
            format_money(action.spend_after, action.currency),
        )
    print_table(table, wrap=("change",))
    totals = result.paused_spend  # per currency: amounts in two currencies are never added
    spent = ", ".join(format_money(v, c or None) for c, v in totals.items()) or "none"
    console.print(
        f"tenant {tenant}, {days} days: {len(result.actions)} actions; spend on ads the rules "
        f"would have paused, from the day they would have: {spent}"
    )


@recommendations_app.command("list")
def list_recommendations(
    tenant: Tenant,
    state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
) -> None:
    """The tenant's recommendations, newest first, with their evidence in short."""
    from metasync.models import Recommendation

    tenant_context(tenant)
    query = Recommendation.objects(tenant_id=tenant)
    if state:
        query = query.filter(state=state)
    found_all = list(query.order_by("-proposed_at")[:200])
    names, currencies = _entity_names(tenant, found_all)
    table = Table("id", "state", "rule", "entity", "action", "change", "why")
    for found in found_all:
        name = names.get(found.entity_id)
        table.add_row(
            str(found.pk),
            found.state,
            found.rule,
            f"{found.level} {found.entity_id}" + (f" ({name})" if name else ""),
            found.action,
            change_text(found.change, currencies.get(found.account_id)),
            (found.error if found.state in ("failed", "restore_refused") else found.expected) or "",
        )
    which = f" in state {state}" if state else ""
    print_table(
        table, wrap=("entity", "why"), empty=f"no recommendations{which} for tenant {tenant}"
    )


MONEY_FIELDS = ("daily_budget", "lifetime_budget", "bid_amount", "spend_cap")
RULE_MONEY_FIELDS = ("target", "max_daily_budget", "min_daily_budget")  # major units


def parameters_text(kind: str, params: dict[str, object]) -> str:
    """A rule's parameters as a person reads them: ``days 7, target 20.00 GBP, ...``; money
    (major units in the rules file) with the rule's currency, or "(account currency)" when the
    rule has none; unset parameters left out (no JSON ``null`` or braces). A return target is
    a ratio: ``return_on_spend``'s ``target`` is shown bare."""
    from metasync.optimize.money import format_money

    currency = params.get("currency")
    ratio_target = kind == "return_on_spend"
    shown = []
    for name, value in params.items():
        if value is None or name == "currency":
            continue
        is_money = name in RULE_MONEY_FIELDS and not (name == "target" and ratio_target)
        if is_money and isinstance(value, int | float):
            text = format_money(float(value), str(currency) if currency else None)
        elif isinstance(value, float):
            text = f"{value:g}"
        elif isinstance(value, list | tuple):
            text = ",".join(str(item) for item in value)
        else:
            text = str(value)
        shown.append(f"{name} {text}")
    return ", ".join(shown)


def change_text(change: dict[str, object] | None, currency: str | None) -> str:
    """A recommendation's change as a person reads it: budgets in major units with the
    account's currency (Meta's API, and so ``change``, counts minor units), ``status PAUSED``."""
    from metasync.optimize.money import format_money
    from metasync.sync.shapes.mapping import ZERO_DECIMAL_CURRENCIES

    per_major = 1 if (currency or "").upper() in ZERO_DECIMAL_CURRENCIES else 100
    parts = []
    for name, value in (change or {}).items():
        if name in MONEY_FIELDS and isinstance(value, int | float):
            parts.append(f"{name} {format_money(value / per_major, currency)}")
        else:
            parts.append(f"{name} {value}")
    return ", ".join(parts) or "-"


def _entity_names(
    tenant: str, found: list[Recommendation]
) -> tuple[dict[str, str], dict[str, str | None]]:
    """The names of the ads and ad sets ``found`` acts on, and each account's currency."""
    from metasync.models import Ad, AdAccount, AdSet

    ids = {r.entity_id for r in found}
    names: dict[str, str] = {}
    for model in (Ad, AdSet):
        for entity in model.objects(tenant_id=tenant, meta_id__in=list(ids)).only(
            "meta_id", "name"
        ):
            if entity.name:
                names[entity.meta_id] = entity.name
    currencies = {
        a.account_id: a.currency
        for a in AdAccount.objects(tenant_id=tenant).only("account_id", "currency")
    }
    return names, currencies


def _decide(tenant: str, recommendation_id: str, approve: bool) -> None:
    from metasync.optimize.settings import RecommendationError, decide_recommendation

    tenant_context(tenant)
    try:
        found = decide_recommendation(tenant, recommendation_id, approve, _operator())
    except RecommendationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    console.print(f"recommendation {recommendation_id}: {found.state} by {found.decided_by}")


@recommendations_app.command("approve")
def approve(tenant: Tenant, recommendation_id: str) -> None:
    """Approve a proposed recommendation."""
    _decide(tenant, recommendation_id, approve=True)


@recommendations_app.command("reject")
def reject(tenant: Tenant, recommendation_id: str) -> None:
    """Reject a proposed recommendation."""
    _decide(tenant, recommendation_id, approve=False)


def _report(found: Recommendation) -> None:
    """Print what an apply or undo came to; exit 1 when it was not done (one line naming why,
    on stderr), so a script or cron sees it."""
    from metasync.optimize.outcome import outcome

    result = outcome(found)
    if not result.ok:
        typer.echo(result.line, err=True)
        raise typer.Exit(1)
    typer.echo(result.line)  # not rich: Meta's text may hold brackets ("[redacted]")


@recommendations_app.command("apply")
def apply_command(tenant: Tenant, recommendation_id: str) -> None:
    """Write an approved recommendation to Meta now, within the guards; read back and audited.
    A failed one is tried again (the cause fixed). Exits 1 when it was not written (the reason
    on stderr), 2 when it could not be tried."""
    from metasync.graph import MetaAPIError
    from metasync.optimize.apply import apply_recommendation
    from metasync.optimize.settings import RecommendationError

    ctx = tenant_context(tenant)
    try:
        found = apply_recommendation(ctx, tenant, recommendation_id, _operator())
    except (RecommendationError, MetaAPIError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    _report(found)


@recommendations_app.command("undo")
def undo_command(tenant: Tenant, recommendation_id: str) -> None:
    """Restore the values an applied recommendation replaced (if nobody changed them since), or
    try again a take-back Meta refused. Exits 1 when Meta refused it, 2 when it stopped."""
    from metasync.graph import MetaAPIError
    from metasync.optimize.settings import RecommendationError
    from metasync.optimize.undo import undo_recommendation

    ctx = tenant_context(tenant)
    try:
        found = undo_recommendation(ctx, tenant, recommendation_id, _operator())
    except (RecommendationError, MetaAPIError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    _report(found)


def apply_proposals(ctx: SyncContext, tenant: str, pending: list[str]) -> bool:
    """Apply mode, as the scheduled evaluation does it but here and now: approve the proposals
    the latest evaluation supports that change something, write each one, and print a line per
    proposal: applied, waiting (the daily cap, a raise of the same evaluation written first,
    another attempt writing it) or why not. False when a write failed (a flag, a proposal
    decided meanwhile or one that waits is not a failure)."""
    from metasync.graph import MetaAPIError
    from metasync.models import Recommendation
    from metasync.optimize.apply import apply_recommendation
    from metasync.optimize.claims import ApplyBusy
    from metasync.optimize.outcome import outcome
    from metasync.optimize.settings import RecommendationError, approve_for_apply_mode

    approved = approve_for_apply_mode(tenant, pending)
    applied, waiting, failed = 0, 0, 0
    for found in Recommendation.objects(tenant_id=tenant, pk__in=pending).order_by("proposed_at"):
        ident = str(found.pk)
        if ident not in approved:
            why = (
                "a flag, nothing to write"
                if not found.change
                else found.error or f"{found.state}, not approved by the optimizer"
            )
            typer.echo(f"not applied: {ident} {found.rule} {found.level} {found.entity_id}: {why}")
            continue
        try:
            done = apply_recommendation(ctx, tenant, ident, _operator())
        except ApplyBusy as exc:  # another attempt holds it, or the raise it follows
            waiting += 1
            typer.echo(
                f"not applied yet: {ident} {found.rule}: {exc}; apply it later with "
                f"metasync recommendations apply --tenant {tenant} {ident}"
            )
            continue
        except (RecommendationError, MetaAPIError) as exc:
            failed += 1
            typer.echo(f"not applied: {ident} {found.rule}: {exc}", err=True)
            continue
        result = outcome(done)
        applied += done.state == "applied"
        waiting += result.ok and done.state != "applied"  # held by the daily cap
        failed += not result.ok
        typer.echo(result.line, err=not result.ok)
    waits = f"{waiting} waiting, " if waiting else ""
    typer.echo(
        f"apply mode: {applied} applied, {waits}{failed} failed, "
        f"{len(pending) - len(approved)} not for the optimizer to apply"
    )
    return failed == 0
