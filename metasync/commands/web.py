"""``metasync web`` (the webhook app) and ``metasync webhooks subscribe``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from metasync.commands.common import connected_context, console, settings_or_exit

__all__ = ["register", "webhooks_app"]

webhooks_app = typer.Typer(help="Meta webhook subscriptions.", no_args_is_help=True)


def web(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the webhook endpoint (/webhooks/meta), the REST API (/api/v1), the operator
    console (/console), /metrics, /healthz and the OpenAPI schema (/docs)."""
    import uvicorn

    from metasync.config import ConfigurationError
    from metasync.webhooks.app import create_app
    from workers.tasks import refresh_token, sync_connection, webhook_change

    def request_sync(connection_id: str, kwargs: dict[str, Any]) -> str:
        return str(sync_connection.apply_async(args=[connection_id], kwargs=kwargs).id)

    settings = settings_or_exit()
    try:
        app = create_app(
            settings,
            lambda change, key: webhook_change.delay(key=key, **change.as_kwargs()),
            request_sync=request_sync,
            refresh_token=lambda connection_id: str(refresh_token.delay(connection_id).id),
        )
    except ConfigurationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    # the app believes X-Forwarded-* from WEB_TRUSTED_PROXIES itself (metasync.console.guard)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


@webhooks_app.command("subscribe")
def subscribe(
    callback_url: Annotated[str, typer.Option(help="Public URL of /webhooks/meta.")],
    fields: Annotated[str, typer.Option(help="Ad-account webhook fields.")] = (
        "with_issues_ad_objects,in_process_ad_objects"
    ),
) -> None:
    """Subscribe the app to ad-account webhooks and each connected account to the app."""
    from metasync.graph import GraphClient, MetaAPIError
    from metasync.models import ConnectionStatus, MetaConnection

    ctx = connected_context()
    settings = ctx.settings
    if settings.META_APP_VERIFY_TOKEN is None:
        typer.echo(
            "META_APP_VERIFY_TOKEN: is required: set it to the verify token for Meta", err=True
        )
        raise typer.Exit(2)
    app_client = GraphClient(
        f"{settings.META_APP_ID}|{settings.META_APP_SECRET.get_secret_value()}", ctx.graph
    )
    try:
        app_client.post(
            f"{settings.META_APP_ID}/subscriptions",
            {
                "object": "ad_account",
                "callback_url": callback_url,
                "fields": fields,
                "verify_token": settings.META_APP_VERIFY_TOKEN.get_secret_value(),
            },
        )
    except MetaAPIError as exc:
        typer.echo(f"Meta refused the app subscription: {exc}", err=True)
        raise typer.Exit(1) from None
    console.print(f"app {settings.META_APP_ID} subscribed: {callback_url} ({fields})")
    failed = 0
    for connection in MetaConnection.objects(status=ConnectionStatus.ACTIVE):
        client = ctx.client_for(connection)
        for account_id in connection.ad_account_ids:
            try:
                client.post(f"act_{account_id}/subscribed_apps", account_id=account_id)
                console.print(f"act_{account_id}: subscribed")
            except MetaAPIError as exc:
                failed += 1
                console.print(f"act_{account_id}: {exc}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("web")(web)
    app.add_typer(webhooks_app, name="webhooks")
