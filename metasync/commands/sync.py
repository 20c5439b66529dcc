"""``metasync sync`` and ``metasync runs``."""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from metasync.commands.common import connected_context, console, print_table, tenant_context
from metasync.commands.follow import END_TIMEOUT_LINE, fail_unstarted
from metasync.sync.periods import Period

__all__ = ["register"]


def _targets(connection: str | None, tenant: str | None) -> list[str]:
    from metasync.models import ConnectionStatus, MetaConnection

    if connection:
        return [connection]
    query = MetaConnection.objects(status=ConnectionStatus.ACTIVE)
    if tenant:
        query = query.filter(tenant_id=tenant)
    return [str(c.pk) for c in query.only("id")]


def _raise_interrupt(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _counts(counts: dict[str, Any]) -> str:
    """``{"ad": 12, "campaign": 3}`` as ``ad 12, campaign 3`` (``none`` when empty)."""
    return ", ".join(f"{name} {value}" for name, value in sorted(counts.items())) or "none"


def _summary(run: Any) -> str:
    written = (
        f"rows: {_counts(dict(run.rows))}; report jobs: {_counts(dict(run.report_jobs))}"
        if run.kind == "performance"
        else f"entities: {_counts(dict(run.entities))}"
    )
    return (
        f"{run.kind} run {run.pk}: {run.status}, {written}, "
        f"{run.api_calls} API calls, {run.retries} retries, "
        f"{run.duration_ms or 0} ms, {len(run.errors)} error(s)"
    )


def _follow(request_ids: list[str], timeout: float, start_timeout: float) -> list[Any]:
    """Show progress of enqueued runs until they end (their runs are found by request id);
    exits 1 with one line when no run opened within ``start_timeout`` seconds, or when they
    had not ended within ``timeout``."""
    from metasync.models import RunStatus, SyncRun

    started = time.monotonic()
    deadline = started + timeout
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        # Until a worker opens the run its size is unknown: say so, not "0/None".
        bars = {
            rid: progress.add_task(f"waiting for {rid[:8]}", total=None, count="not taken yet")
            for rid in request_ids
        }
        while time.monotonic() < deadline:
            found = {r.request_id: r for r in SyncRun.objects(request_id__in=request_ids)}
            for rid, bar in bars.items():
                run = found.get(rid)
                if run is not None:
                    progress.update(
                        bar,
                        description=f"{run.connection_id[:8]} {run.status}",
                        total=max(1, run.subtasks_total),
                        completed=run.subtasks_done,
                        count=f"{run.subtasks_done}/{max(1, run.subtasks_total)} subtasks",
                    )
            if len(found) == len(request_ids) and all(
                r.status != RunStatus.RUNNING for r in found.values()
            ):
                return list(found.values())
            waited = time.monotonic() - started
            if len(found) < len(request_ids) and waited > start_timeout:
                progress.stop()
                fail_unstarted(len(request_ids) - len(found), waited)
            time.sleep(0.5)
    typer.echo(END_TIMEOUT_LINE.format(count=len(request_ids), timeout=timeout), err=True)
    raise typer.Exit(1)


def _run_kind(
    kind: str,
    targets: list[str],
    *,
    inline: bool,
    full: bool,
    period: Period | None,
    levels: tuple[str, ...] | None,
    timeout: float,
    start_timeout: float,
) -> None:
    from metasync.models import SyncRun
    from metasync.sync import run_inline

    ctx = connected_context()
    if inline:
        for connection_id in targets:
            start = run_inline(
                ctx, connection_id, kind=kind, full=full or None, period=period, levels=levels
            )
            run = SyncRun.objects(pk=start.run_id).first() if start.run_id else None
            console.print(
                _summary(run) if run else f"{connection_id}: {start.status} {start.reason}"
            )
        return
    from workers.tasks import sync_connection

    ids = [
        sync_connection.delay(
            cid,
            kind=kind,
            trigger="cli",
            full=full or None,
            period=period.as_dict() if period else None,
            levels=list(levels) if levels else None,
        ).id
        for cid in targets
    ]
    for run in _follow(ids, timeout, start_timeout):
        console.print(_summary(run))


def _loop(
    kinds: list[str],
    connection: str | None,
    tenant: str | None,
    loop: bool,
    interval: int,
    **options: Any,
) -> None:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    tenant_context(tenant)
    try:
        while True:
            targets = _targets(connection, tenant)
            if not targets and not loop:
                typer.echo(
                    "error: no ACTIVE connection to sync (metasync connections list shows "
                    "each one's status)",
                    err=True,
                )
                raise typer.Exit(1)
            if not targets:
                console.print("no ACTIVE connection to sync")
            for kind in kinds:
                _run_kind(kind, targets, **options)
            if not loop:
                return
            time.sleep(interval * 60)
    except KeyboardInterrupt:
        console.print("interrupted: the run in progress was closed and its lock released")
        raise typer.Exit(130) from None


def sync(
    connection: Annotated[str | None, typer.Option(help="Only this connection id.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's connections.")] = None,
    full: Annotated[bool, typer.Option(help="Force a full reconciliation.")] = False,
    performance: Annotated[
        bool, typer.Option(help="Then sync performance (daily insights) too.")
    ] = False,
    inline: Annotated[
        bool, typer.Option(help="Run in this process, without a broker (holding the same lock).")
    ] = False,
    loop: Annotated[bool, typer.Option(help="Repeat until interrupted.")] = False,
    interval: Annotated[int, typer.Option(min=1, help="Minutes between loops.")] = 240,
    timeout: Annotated[float, typer.Option(help="Seconds to follow enqueued runs.")] = 3600,
    start_timeout: Annotated[
        float,
        typer.Option(help="Seconds a worker has to take an enqueued run before the command fails."),
    ] = 60,
) -> None:
    """Sync campaigns, ad sets, ads and creatives now (enqueued, or --inline)."""
    kinds = ["entities", "performance"] if performance else ["entities"]
    _loop(
        kinds,
        connection,
        tenant,
        loop,
        interval,
        inline=inline,
        full=full,
        period=None,
        levels=None,
        timeout=timeout,
        start_timeout=start_timeout,
    )


def sync_performance(
    date_preset: Annotated[
        str | None,
        typer.Option(
            help="A Meta date preset: yesterday, last_7d, last_30d, this_month, maximum, ..."
        ),
    ] = None,
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (account time).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (account time).")] = None,
    level: Annotated[
        list[str] | None,
        typer.Option(
            help="account, campaign, adset or ad (repeatable); default: META_INSIGHTS_LEVELS."
        ),
    ] = None,
    connection: Annotated[str | None, typer.Option(help="Only this connection id.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's connections.")] = None,
    inline: Annotated[
        bool, typer.Option(help="Run in this process, without a broker (holding the same lock).")
    ] = False,
    loop: Annotated[bool, typer.Option(help="Repeat until interrupted.")] = False,
    interval: Annotated[int, typer.Option(min=1, help="Minutes between loops.")] = 60,
    timeout: Annotated[float, typer.Option(help="Seconds to follow enqueued runs.")] = 3600,
    start_timeout: Annotated[
        float,
        typer.Option(help="Seconds a worker has to take an enqueued run before the command fails."),
    ] = 60,
) -> None:
    """Sync daily performance rows now; by default the scheduled window (recent days, and the
    28-day lookback once a day)."""
    from datetime import date

    from metasync.sync.periods import PRESETS

    if date_preset and (since or until):
        typer.echo("give --date-preset or --since/--until, not both", err=True)
        raise typer.Exit(2)
    if date_preset and date_preset not in PRESETS:
        typer.echo(f"--date-preset must be one of {', '.join(PRESETS)}", err=True)
        raise typer.Exit(2)
    try:
        period = Period(
            date_preset,
            date.fromisoformat(since) if since else None,
            date.fromisoformat(until) if until else None,
        )
    except ValueError:
        typer.echo("--since and --until take dates as YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None
    bad = [name for name in level or [] if name not in ("account", "campaign", "adset", "ad")]
    if bad:
        typer.echo(f"--level must be account, campaign, adset or ad (got {bad[0]})", err=True)
        raise typer.Exit(2)
    _loop(
        ["performance"],
        connection,
        tenant,
        loop,
        interval,
        inline=inline,
        full=False,
        period=period if any(period.as_dict().values()) else None,
        levels=tuple(level) if level else None,
        timeout=timeout,
        start_timeout=start_timeout,
    )


def runs(
    connection: Annotated[str | None, typer.Option(help="Only this connection id.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many runs.")] = 20,
) -> None:
    """Recent runs with their statistics."""
    from metasync.models import MetaConnection, SyncRun

    connected_context()
    query = SyncRun.objects(connection_id=connection) if connection else SyncRun.objects
    tenants = {str(c.pk): c.tenant_id for c in MetaConnection.objects.only("id", "tenant_id")}
    table = Table(
        "run",
        "tenant",
        "connection",
        "kind",
        "full",
        "status",
        "started",
        "entities",
        "pages",
        "calls",
        "retries",
        "throttled s",
        "ms",
        "errors",
    )
    for run in query.order_by("-started_at").limit(limit):
        table.add_row(
            str(run.pk),
            tenants.get(run.connection_id, "-"),
            run.connection_id,
            run.kind,
            "yes" if run.full else "no",
            run.status,
            f"{run.started_at:%Y-%m-%d %H:%M:%S}",
            str(sum(int(v) for v in run.entities.values())),
            str(run.pages),
            str(run.api_calls),
            str(run.retries),
            f"{run.throttled_seconds:.0f}",
            str(run.duration_ms or "-"),
            str(len(run.errors)),
        )
    print_table(table)


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
    app.command("sync-performance")(sync_performance)
    app.command("runs")(runs)
