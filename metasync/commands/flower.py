"""``metasync flower``: Celery's task monitor, reachable only with a generated password."""

from __future__ import annotations

from typing import Annotated

import typer

from metasync.commands.common import settings_or_exit

__all__ = ["flower"]


def flower(
    host: Annotated[
        str, typer.Option(help="Interface to listen on (keep 127.0.0.1 outside a container).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 5555,
    url_prefix: Annotated[
        str, typer.Option(help="Serve under this path, e.g. flower (behind a proxy).")
    ] = "",
) -> None:
    """Serve Flower: every path (its /metrics too) behind FLOWER_BASIC_AUTH, read-only unless
    FLOWER_TASK_CONTROL is true. Refuses a missing, short or example password."""
    settings = settings_or_exit()
    from workers.flower_gate import FlowerCredentialsError, parse_credentials

    secret = settings.FLOWER_BASIC_AUTH
    try:
        credentials = parse_credentials(secret.get_secret_value() if secret else None)
    except FlowerCredentialsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    from workers.flower import serve

    serve(
        host=host,
        port=port,
        credentials=credentials,
        task_control=settings.FLOWER_TASK_CONTROL,
        url_prefix=url_prefix,
    )
