"""The sync engine: mapping Meta JSON to documents, entity sync, run statistics."""

from metasync.sync.context import SyncContext
from metasync.sync.orchestrate import (
    Outcome,
    StartResult,
    Subtask,
    execute_subtask,
    run_inline,
    start_entity_sync,
)

__all__ = [
    "Outcome",
    "StartResult",
    "Subtask",
    "SyncContext",
    "execute_subtask",
    "run_inline",
    "start_entity_sync",
]
