"""A Celery client app that sends tasks by name to real worker processes (see Workers)."""

from __future__ import annotations

from celery import Celery

from metasync.embedded import Workers

__all__ = ["Workers", "client_app"]


def client_app(broker_url: str, prefix: str) -> Celery:
    """A Celery app that only sends tasks by name to the workers' broker and prefix."""
    app = Celery("metasync-tests", broker=broker_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_transport_options={"global_keyprefix": prefix},
        broker_connection_retry_on_startup=True,
    )
    return app
