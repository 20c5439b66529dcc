"""The Celery application. MongoDB is connected in each worker process after fork."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, worker_process_init, worker_process_shutdown

from metasync import db
from metasync.config import api_version_warning, get_settings
from metasync.logs import install_redaction
from workers.beat import beat_schedule

__all__ = ["app"]

install_redaction()  # before anything logs; forked pool processes inherit it
app = Celery(
    "metasync",
    include=["workers.tasks", "workers.maintenance", "workers.leads", "workers.features"],
)
app.config_from_object("celeryconfig")
app.conf.beat_schedule = beat_schedule(get_settings())
_version_warning = api_version_warning(get_settings())
if _version_warning:  # every worker and beat process says it at start
    logging.getLogger("metasync").warning("META_API_VERSION: %s", _version_warning)


@after_setup_logger.connect  # type: ignore[untyped-decorator]
def _apply_log_level(logger: logging.Logger, **_: Any) -> None:
    """LOG_LEVEL decides, not only the worker's --loglevel. The worker's one "<name> ready."
    line stays at any level: operators (and the scripts that start workers) wait for it."""
    level = get_settings().LOG_LEVEL
    logger.setLevel(level)
    logging.getLogger("metasync").setLevel(level)
    for handler in logger.handlers:
        handler.setLevel(logging.NOTSET)
    readiness = logging.getLogger("celery.apps.worker")
    readiness.setLevel(min(logging.INFO, logging.getLevelName(level)))


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _connect_after_fork(**_: Any) -> None:
    db.connect(get_settings().MONGODB_URI)
    db.ensure_indexes(get_settings().RUN_RETENTION_DAYS)


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _disconnect(**_: Any) -> None:
    db.disconnect()
