"""The sync engine: a connection's run is started (:mod:`metasync.sync.start`) and its subtasks
each go through one pipeline (:mod:`metasync.sync.pipeline`): plan, read, write, account."""

from metasync.sync.context import SyncContext
from metasync.sync.periods import Period
from metasync.sync.pipeline import (
    execute_subtask,
    run_inline,
    start_entity_sync,
    start_sync,
)
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
