"""The beat schedule, from settings: entity syncs every META_SYNC_INTERVAL_MINUTES and
performance syncs every PERFORMANCE_SYNC_INTERVAL_MINUTES."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from metasync.config import Settings

__all__ = ["beat_schedule"]


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "entity-syncs": {
            "task": "metasync.schedule_syncs",
            "schedule": timedelta(minutes=settings.META_SYNC_INTERVAL_MINUTES),
            "kwargs": {"kind": "entities"},
        },
        "performance-syncs": {
            "task": "metasync.schedule_syncs",
            "schedule": timedelta(minutes=settings.PERFORMANCE_SYNC_INTERVAL_MINUTES),
            "kwargs": {"kind": "performance"},
        },
    }
