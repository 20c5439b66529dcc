"""The export task's time limits: a large first export to a cloud warehouse runs longer than
the 600 s every other task gets, and must still end before the broker hands it to another
worker (its visibility timeout)."""

from __future__ import annotations

import importlib
from pathlib import Path

from metasync.config import get_settings
from workers.base import MetaSyncTask


def test_the_export_task_has_its_own_time_limit_below_the_visibility_timeout(
    warehouse_secrets: Path,  # the settings workers.tasks reads when imported
) -> None:
    tasks = importlib.import_module("workers.tasks")
    task = tasks.export_warehouse
    assert task.time_limit == tasks.EXPORT_TIME_LIMIT_SECONDS
    assert MetaSyncTask.time_limit < task.soft_time_limit < task.time_limit
    assert task.time_limit < get_settings().BROKER_VISIBILITY_TIMEOUT_SECONDS
