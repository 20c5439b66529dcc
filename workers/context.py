"""This worker process's :class:`~metasync.sync.SyncContext`, built after fork on first use."""

from __future__ import annotations

import os

from metasync.config import get_settings
from metasync.sync import SyncContext

__all__ = ["context"]

_context: SyncContext | None = None
_pid: int | None = None


def context() -> SyncContext:
    global _context, _pid
    if _context is None or _pid != os.getpid():
        _context, _pid = SyncContext.from_settings(get_settings()), os.getpid()
    return _context
