"""The Celery application. MongoDB is connected in each worker process after fork."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from metasync import db
from metasync.config import api_version_warning, get_settings
from workers.beat import beat_schedule

__all__ = ["app"]

app = Celery("metasync", include=["workers.tasks"])
app.config_from_object("celeryconfig")
app.conf.beat_schedule = beat_schedule(get_settings())
_version_warning = api_version_warning(get_settings())
if _version_warning:  # every worker and beat process says it at start
    logging.getLogger("metasync").warning("META_API_VERSION: %s", _version_warning)


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _connect_after_fork(**_: Any) -> None:
    db.connect(get_settings().MONGODB_URI)
    db.ensure_indexes()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _disconnect(**_: Any) -> None:
    db.disconnect()
