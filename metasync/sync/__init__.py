"""The sync engine: mapping Meta JSON to documents, entity and performance syncs, runs."""

from metasync.sync.context import SyncContext
from metasync.sync.orchestrate import (
    execute_subtask,
    run_inline,
    start_entity_sync,
    start_sync,
)
from metasync.sync.periods import Period
from metasync.sync.subtasks import Outcome, StartResult, Subtask

__all__ = [
    "Outcome",
    "Period",
    "StartResult",
    "Subtask",
    "SyncContext",
    "execute_subtask",
    "run_inline",
    "start_entity_sync",
    "start_sync",
]
