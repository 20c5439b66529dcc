"""A Celery app that only sends tasks by name: for processes that enqueue work but must not load
the workers' configuration from the environment (tests, benchmarks)."""

from __future__ import annotations

from celery import Celery

__all__ = ["sender_app"]


def sender_app(broker_url: str, prefix: str) -> Celery:
    """Sends to ``broker_url`` under the key ``prefix`` the workers use (REDIS_KEY_PREFIX)."""
    app = Celery("metasync-sender", broker=broker_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_transport_options={"global_keyprefix": prefix},
        broker_connection_retry_on_startup=True,
    )
    return app
