"""The ``metasync`` command line."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from metasync import __version__
from metasync.commands.api_keys import api_keys_app
from metasync.commands.common import settings_or_exit, use_settings_file
from metasync.commands.connections import app as connections_app
from metasync.commands.console import console_app
from metasync.commands.demo import demo
from metasync.commands.errors import OPERATOR_ERRORS, one_line
from metasync.commands.export import export_app
from metasync.commands.flower import flower
from metasync.commands.help_text import tidy
from metasync.commands.keys import keys_app
from metasync.commands.leads import leads_app
from metasync.commands.mcp import mcp
from metasync.commands.objects import conversions_app, history
from metasync.commands.optimize import recommendations_app, rules_app
from metasync.commands.reports import app as reports_app
from metasync.commands.reports import verify
from metasync.commands.sync import register as register_sync_commands
from metasync.commands.tenants import tenants
from metasync.commands.web import register as register_web_commands
from metasync.config import Settings
from metasync.sandbox.versions import LIVE_VERSIONS

__all__ = ["app", "main"]

app = typer.Typer(
    pretty_exceptions_enable=False,
    name="metasync",
    help="Keep a MongoDB mirror of Meta ad accounts for many tenants.",
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="MongoDB housekeeping.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The local Graph API sandbox.", no_args_is_help=True)
app.add_typer(connections_app, name="connections")
app.add_typer(reports_app, name="reports")
app.add_typer(conversions_app, name="conversions")
app.add_typer(rules_app, name="rules")
app.add_typer(recommendations_app, name="recommendations")
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(console_app, name="console")
app.add_typer(export_app, name="export")
app.add_typer(leads_app, name="leads")
app.command("history")(history)
app.command("verify")(verify)
register_sync_commands(app)
register_web_commands(app)
app.command("mcp")(mcp)
app.command("demo")(demo)
app.command("tenants")(tenants)
app.command("flower")(flower)
app.add_typer(config_app, name="config")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


@app.command()
def version() -> None:
    """Print metasync's version."""
    typer.echo(__version__)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"metasync {__version__}")
        raise typer.Exit()


@app.callback()
def settings_source(
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            envvar="METASYNC_ENV_FILE",
            help="Read settings from this file (what `metasync demo` writes and prints) before "
            "the command runs; variables already set in the environment keep their value.",
        ),
    ] = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Keep a MongoDB mirror of Meta ad accounts for many tenants."""
    if env_file is not None:
        use_settings_file(env_file)


@config_app.command("check")
def config_check() -> None:
    """Validate the environment; print each variable's state (never a secret's value)."""
    settings = settings_or_exit()
    for name in Settings.model_fields:
        value = getattr(settings, name)
        secret = isinstance(value, SecretStr) or (
            isinstance(value, tuple) and value and isinstance(value[0], SecretStr)
        )
        shown = "set (secret)" if secret else _as_written(value)
        if name in {"MONGODB_URI", "REDIS_URL"}:
            shown = "set"
        typer.echo(f"{name}: {shown}")


def _as_written(value: object) -> str:
    """A setting as it is written in the environment (``account,campaign``, ``true``,
    ``unset``, ``empty``), never Python's repr of a tuple, ``None`` or ``False``."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(_as_written(item) for item in value) or "empty"
    return str(value)


@db_app.command("init")
def db_init() -> None:
    """Create every collection's indexes (unique natural keys included). Idempotent."""
    from metasync import db

    settings = settings_or_exit()
    db.connect(settings.MONGODB_URI)
    db.ensure_indexes(settings.RUN_RETENTION_DAYS)
    typer.echo("indexes are in place")


def _json_option(name: str, text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        typer.echo(f"{name} must be a JSON object, e.g. '{{\"error_5xx_rate\": 0.1}}'", err=True)
        raise typer.Exit(2) from None
    if not isinstance(value, dict):
        typer.echo(f"{name} must be a JSON object", err=True)
        raise typer.Exit(2)
    return value


@sandbox_app.command("serve")
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    seed: Annotated[int, typer.Option(help="World seed: the same seed gives the same world.")] = 1,
    users: Annotated[int, typer.Option(min=1, help="Synthetic users (one token each).")] = 2,
    accounts_per_user: Annotated[int, typer.Option(min=1, help="Ad accounts per user.")] = 2,
    campaigns_per_account: Annotated[int, typer.Option(min=0)] = 4,
    adsets_per_campaign: Annotated[int, typer.Option(min=0)] = 2,
    ads_per_adset: Annotated[int, typer.Option(min=0)] = 3,
    days: Annotated[int, typer.Option(min=1, help="Days of insights before today.")] = 30,
    lead_forms_per_page: Annotated[
        int, typer.Option(min=0, help="Lead forms on each user's Page (0: no Lead Ads).")
    ] = 0,
    leads_per_form: Annotated[int, typer.Option(min=0, help="Leads each form has.")] = 40,
    app_id: Annotated[str, typer.Option(help="App id the sandbox answers for.")] = (
        "100000000000001"
    ),
    app_secret: Annotated[
        str,
        typer.Option(
            help="App secret that appsecret_proof is checked with ('' turns the check off)."
        ),
    ] = "sandbox-app-secret",  # noqa: S107 - the sandbox's published fake secret
    api_versions: Annotated[
        str,
        typer.Option(
            help="Comma-separated Marketing API versions served (Meta's live ones by default); "
            "an older one answers (#2635)."
        ),
    ] = ",".join(LIVE_VERSIONS),
    faults: Annotated[
        str | None,
        typer.Option(
            help='Fault profile as JSON, e.g. \'{"error_5xx_rate": 0.05, "latency_ms": 20}\'. '
            "Keys: latency_ms, jitter_ms, error_5xx_rate, code2_rate, slow_rate, slow_ms, "
            "reduce_data_above, empty_page_rate, batch_null_rate, job_seconds, job_fail_rate, "
            "job_fail_code (1, 2 or 100), "
            "job_skip_rate, job_stuck_rate, job_visibility_seconds, job_never_visible_rate, "
            "repeat_cursor_rate, short_page_rate, token_expire_after_calls, "
            "sync_timeout_days, seed. Change it at run time with PUT /_sandbox/faults."
        ),
    ] = None,
    budgets: Annotated[
        str | None,
        typer.Option(
            help="Call budgets as JSON: app, user, account, business_use_case (calls per window) "
            "and window_seconds (default 3600). Past a budget, Meta's throttling errors."
        ),
    ] = None,
    require_appsecret_proof: Annotated[
        bool,
        typer.Option(
            help="The app's 'Require App Secret' setting: refuse calls without appsecret_proof."
        ),
    ] = True,
    app_created: Annotated[
        str,
        typer.Option(
            help="When the app was created (YYYY-MM-DD). Apps from 2026-11-04 on cannot use "
            "multi-id reads, field aliases, date formatting, method override, JSONP or async "
            "batches (Meta's v27 launch post)."
        ),
    ] = "2026-12-01",
    auto_upgrade_versions: Annotated[
        bool,
        typer.Option(
            help="The app's 'Ads API Version Settings': serve a call to an expired version with "
            "the next live one and an X-Ad-Api-Version-Warning header instead of (#2635)."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option(help="Do not print the connection details.")] = False,
) -> None:
    """Serve a deterministic synthetic Graph API (tokens, accounts, insights; all fake)."""
    from metasync.sandbox.faults import FaultProfile
    from metasync.sandbox.server import build_state, serve
    from metasync.sandbox.state import SandboxConfig
    from metasync.sandbox.usage import Budgets
    from metasync.sandbox.world import WorldSize

    try:
        profile = FaultProfile.from_dict(_json_option("--faults", faults))
        limits = Budgets(**_json_option("--budgets", budgets))
        created = date.fromisoformat(app_created)
    except (TypeError, ValueError) as exc:
        typer.echo(f"invalid --faults, --budgets or --app-created: {exc}", err=True)
        raise typer.Exit(2) from None
    size = WorldSize(
        users,
        accounts_per_user,
        campaigns_per_account,
        adsets_per_campaign,
        ads_per_adset,
        days,
        lead_forms_per_page=lead_forms_per_page,
        leads_per_form=leads_per_form,
    )
    served = tuple(v.strip() for v in api_versions.split(",") if v.strip())
    config = SandboxConfig(
        app_id=app_id,
        app_secret=app_secret or None,
        api_versions=served,
        require_appsecret_proof=require_appsecret_proof,
        app_created=created,
        auto_upgrade_versions=auto_upgrade_versions,
    )
    state = build_state(seed=seed, size=size, config=config, faults=profile, budgets=limits)
    serve(state, host, port, quiet=quiet)


def main() -> None:
    """Console entry point: an operator's failure is one line and exit code 1; ``--debug``
    anywhere on the command line shows the traceback instead."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    command = typer.main.get_command(app)
    tidy(command)
    try:
        command(prog_name="metasync")
    except OPERATOR_ERRORS as exc:
        if debug:
            raise
        typer.echo(one_line(exc), err=True)
        raise SystemExit(1) from None
