"""The Celery application. MongoDB is connected in each worker process after fork."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from metasync import db
from metasync.config import get_settings
from workers.beat import beat_schedule

__all__ = ["app"]

app = Celery("metasync", include=["workers.tasks"])
app.config_from_object("celeryconfig")
app.conf.beat_schedule = beat_schedule(get_settings())


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _connect_after_fork(**_: Any) -> None:
    db.connect(get_settings().MONGODB_URI)
    db.ensure_indexes()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _disconnect(**_: Any) -> None:
    db.disconnect()
