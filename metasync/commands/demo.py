"""``metasync demo``: the one-command tour (see :mod:`metasync.demo`)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from metasync.commands.common import console, print_table
from metasync.commands.follow import END_TIMEOUT_LINE, fail_unstarted

__all__ = ["demo"]


DEMO_REPORTS = ("country", "video", "reach_weekly")  # see `metasync reports list`


def _follow(
    run_kind: str, request_ids: list[str], timeout: float, start_timeout: float = 120
) -> list[Any]:
    """One progress bar over the runs of ``request_ids`` until they end; exits 1 with one
    line when no worker opened them within ``start_timeout`` s or they outlast ``timeout``."""
    from metasync.models import RunStatus, SyncRun

    started = time.monotonic()

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task(f"{run_kind} sync", total=None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = list(SyncRun.objects(request_id__in=request_ids))
            progress.update(
                bar,
                total=max(1, sum(r.subtasks_total for r in runs)),
                completed=sum(r.subtasks_done for r in runs),
            )
            if len(runs) == len(request_ids) and all(r.status != RunStatus.RUNNING for r in runs):
                return runs
            waited = time.monotonic() - started
            if len(runs) < len(request_ids) and waited > start_timeout:
                progress.stop()
                fail_unstarted(len(request_ids) - len(runs), waited)
            time.sleep(0.5)
    typer.echo(END_TIMEOUT_LINE.format(count=len(request_ids), timeout=timeout), err=True)
    raise typer.Exit(1)


def _summary(connections: list[Any], runs: dict[str, list[Any]]) -> Table:
    from metasync.models import (
        Ad,
        AdAccount,
        AdCreative,
        AdSet,
        Campaign,
        DailyInsight,
        Reconciliation,
        ReportRow,
    )

    table = Table(
        "tenant",
        "account",
        "cur",
        "campaigns",
        "ad sets",
        "ads",
        "creatives",
        "daily rows",
        "report rows",
        "days reconciled",
        "API calls*",
        "ms*",
        title="* per connection: entities + performance runs",
    )
    for connection in connections:
        mine = runs.get(str(connection.pk), [])
        calls = sum(r.api_calls for r in mine)
        duration = sum(r.duration_ms or 0 for r in mine)
        for account_id in connection.ad_account_ids:
            scope = {"tenant_id": connection.tenant_id, "account_id": account_id}
            account = AdAccount.objects(
                tenant_id=connection.tenant_id, meta_id=f"act_{account_id}"
            ).first()
            table.add_row(
                connection.tenant_id,
                _account_label(connection.tenant_id, account_id),
                account.currency if account else "?",
                str(Campaign.objects(**scope).count()),
                str(AdSet.objects(**scope).count()),
                str(Ad.objects(**scope).count()),
                str(AdCreative.objects(**scope).count()),
                str(DailyInsight.objects(**scope).count()),
                str(ReportRow.objects(**scope).count()),
                f"{Reconciliation.objects(status='ok', **scope).count()}"
                f"/{Reconciliation.objects(**scope).count()}",
                str(calls),
                str(duration),
            )
    return table


def _account_label(tenant_id: str, account_id: str) -> str:
    """``act_<id> <name>``: the id a command takes, beside the name a person knows."""
    from metasync.models import AdAccount

    account = AdAccount.objects(tenant_id=tenant_id, meta_id=f"act_{account_id}").first()
    name = account.name if account is not None and account.name else ""
    return f"act_{account_id} {name}".rstrip()


def _rest_of_account(connections: list[Any]) -> Table:
    """Per account: libraries, activities, delivery signals and the change log."""
    from metasync.models import (
        AdActivity,
        AdImage,
        AdSet,
        AdVideo,
        ChangeRecord,
        CustomAudience,
        CustomConversion,
    )

    table = Table(
        "account",
        "images",
        "videos",
        "custom conv.",
        "audiences",
        "activities",
        "ad sets learning",
        "changes logged",
        title="The rest of each account",
    )
    for connection in connections:
        for account_id in connection.ad_account_ids:
            scope = {"tenant_id": connection.tenant_id, "account_id": account_id}
            learning = AdSet.objects(**scope, learning_stage_info__status="LEARNING").count()
            table.add_row(
                _account_label(connection.tenant_id, account_id),
                *(
                    str(model.objects(**scope).count())
                    for model in (AdImage, AdVideo, CustomConversion, CustomAudience, AdActivity)
                ),
                f"{learning}/{AdSet.objects(**scope, learning_stage_info__ne={}).count()}",
                str(ChangeRecord.objects(**scope).count()),
            )
    return table


def _raise_interrupt(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def demo(
    once: Annotated[bool, typer.Option(help="Stop everything after the first sync.")] = False,
    small: Annotated[bool, typer.Option(help="A small world (faster; what CI runs).")] = False,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Where embedded services keep their files (default .metasync/demo)."),
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Delete the work folder first.")] = True,
) -> None:
    """Run metasync end to end on this machine: embedded MongoDB and Redis (unless MONGODB_URI /
    REDIS_URL are set), the sandbox, workers, beat, Flower and the web app (webhooks, REST API,
    console, metrics)."""
    from metasync.config import Settings, environment_value
    from metasync.demo import default_workdir, start_services

    folder = workdir or default_workdir()
    if fresh and folder.exists():
        shutil.rmtree(folder)
    base = {  # the user's own settings go on top of the demo's defaults
        name: value
        for name in ("PATH", "HOME", *Settings.model_fields)
        if (value := environment_value(name))
    }
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # a spinner with the time waited while the services start (workers, Flower and the web
    # app take up to a minute each on a busy machine): never a silent wait
    starting = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    starting.add_task("starting the demo's services", total=None)
    starting.start()
    try:
        with start_services(
            folder,
            small=small,
            base_env=base,
            say=lambda text: console.print(f"[green]✓[/green] {text}"),
        ) as services:
            starting.stop()
            _tour(services, once)
    except KeyboardInterrupt:
        console.print("stopped: every demo process has been shut down")
        return
    finally:
        starting.stop()


def _warehouses(ctx: Any, connections: list[Any], workdir: Path) -> dict[str, Path]:
    """Every tenant exports to a DuckDB file of its own after each sync (one file each: a
    DuckDB file takes one writing process at a time)."""
    from metasync.export.targets import set_target

    files = {}
    for connection in connections:
        path = workdir / "warehouse" / f"{connection.tenant_id}.duckdb"
        set_target(ctx.cipher, connection.tenant_id, f"duckdb:///{path}")
        files[connection.tenant_id] = path
    console.print("[green]✓[/green] every tenant exports to its own DuckDB file after each sync")
    return files


def _exported(tenants: list[str]) -> int:
    """How many of ``tenants`` have a warehouse export that started after their last sync."""
    from metasync.models import ExportRun, SyncRun

    count = 0
    for tenant in tenants:
        last_sync = SyncRun.objects(tenant_id=tenant).order_by("-finished_at").first()
        done = ExportRun.objects(tenant_id=tenant, status="succeeded")
        if last_sync is not None and done.filter(started_at__gte=last_sync.finished_at).count():
            count += 1
    return count


def _wait_for_exports(tenants: list[str], timeout: float) -> bool:
    """Wait (``timeout`` s at most) for each tenant's export after its syncs, with a progress
    bar (tenants exported, time waited), so the wait is never silent."""
    from metasync.demo import wait_until

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} tenants"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("warehouse exports", total=len(tenants))

        def all_exported() -> bool:
            done = _exported(tenants)
            progress.update(bar, completed=done)
            return done == len(tenants)

        return wait_until(all_exported, timeout=timeout)


def _show_warehouses(files: dict[str, Path], timeout: float = 120) -> None:
    """Wait (two minutes at most) for each tenant's export after its syncs, then say where."""
    from metasync.export.destinations import schema_for

    if not _wait_for_exports(list(files), timeout):
        console.print("[yellow]the warehouse exports are still running: metasync export status")
    tenant, path = next(iter(files.items()))
    table = f"{schema_for(tenant)}.basic_ad"  # a schema name metasync made
    query = f"SELECT date, sum(spend), sum(impressions) FROM {table} GROUP BY 1 ORDER BY 1"  # noqa: S608
    code = (
        f"import duckdb; print(duckdb.connect({str(path)!r}, read_only=True)"
        f".sql({query!r}).fetchall())"
    )
    typer.echo(  # plain: a command to paste is never wrapped
        "\nYour warehouse (Fivetran's Facebook Ads tables, one DuckDB file per tenant):\n"
        f"  {path.parent}/<tenant>.duckdb\n"
        f"  {shlex.join([sys.executable, '-c', code])}"
    )


def _where_next(services: Any, tenant: str, api_key: str) -> str:
    """The lines to paste, printed plainly (never wrapped). Settings, secrets among them, are
    in the settings file only (mode 0600); the logins the demo made for a person (Flower's,
    the console's, an API key) are printed."""
    from metasync.demo import metasync_command

    file = shlex.quote(str(services.settings_file))
    web = services.web_url
    mongo_code = (
        f"import pymongo; c = pymongo.MongoClient({services.mongodb_uri!r}); "
        "print(c.get_database().daily_insights.find_one({'level': 'campaign'}))"
    )
    return (
        "\nWhere to look next:\n"
        f"  the CLI on this demo (its settings, secrets included, are in {file}, mode 0600):\n"
        f"    {metasync_command()} --env-file {file} runs\n"
        f"    or for every command of this shell: export METASYNC_ENV_FILE={file}\n"
        f"  Flower (tasks, retries): {services.flower_url}  user demo, password "
        f"{services.flower_password}\n"
        f"  MongoDB: {services.mongodb_uri}\n"
        f"  sample query: {shlex.join([sys.executable, '-c', mongo_code])}\n"
        f"  console (freshness, health, sync now): {web}/console  user ops, "
        f"password {services.console_password}\n"
        f"  REST API of {tenant}: curl -H 'Authorization: Bearer {api_key}' "
        f"{web}/api/v1/health   (schema: {web}/docs)\n"
        "  Prometheus metrics (the scrape token METRICS_TOKEN, from the settings file): "
        f'(set -a; . {file}; curl -H "Authorization: Bearer $METRICS_TOKEN" {web}/metrics)\n'
        f"  webhooks: {web}/webhooks/meta   health: {web}/healthz\n"
        f"  sandbox control API: {services.sandbox_url}/_sandbox/info"
    )


def _tour(services: Any, once: bool) -> None:
    os.environ.update(services.env)  # the demo configures the process it runs in
    from metasync.config import get_settings

    get_settings.cache_clear()
    from metasync import db
    from metasync.api.keys import create_key
    from metasync.models import MetaConnection
    from metasync.reports.store import set_enabled
    from metasync.sync import SyncContext
    from metasync.sync.connections import add_connection
    from workers.tasks import sync_connection

    settings = get_settings()
    db.connect(settings.MONGODB_URI)
    db.ensure_indexes(settings.RUN_RETENTION_DAYS)
    ctx = SyncContext.from_settings(settings)
    connections: list[MetaConnection] = []
    for number, user in enumerate(services.sandbox_info["users"], start=1):
        connections.append(add_connection(ctx, f"demo-tenant-{number}", user["token"]))
    console.print(f"[green]✓[/green] added {len(connections)} connections (one per tenant)")
    for connection in connections:
        for report in DEMO_REPORTS:
            set_enabled(connection.tenant_id, report, True)
    console.print(f"[green]✓[/green] reports on for every tenant: {', '.join(DEMO_REPORTS)}")
    _, api_key = create_key(connections[0].tenant_id, "demo", by="demo")
    warehouses = _warehouses(ctx, connections, services.workdir)
    runs: dict[str, list[Any]] = {}
    for kind in ("entities", "performance"):
        ids = [sync_connection.delay(str(c.pk), kind=kind, trigger="demo").id for c in connections]
        for run in _follow(kind, ids, timeout=900):
            runs.setdefault(run.connection_id, []).append(run)
            if run.status != "succeeded":
                console.print(f"[red]{kind} run {run.pk} ended {run.status}: {run.errors[:1]}")
    print_table(_summary(connections, runs), wrap=("account",))
    print_table(_rest_of_account(connections), wrap=("account",))
    _show_warehouses(warehouses)
    typer.echo(_where_next(services, connections[0].tenant_id, api_key))
    if once:
        console.print("--once: stopping everything")
        return
    console.print(
        "syncing on schedule (entities every 30 min, performance every 15 min); Ctrl-C to stop"
    )
    while True:
        time.sleep(3600)
