"""Counting the MongoDB commands a piece of code sends (a pymongo command listener: it hears
the clients made after :func:`command_counter` first registers it)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from pymongo import monitoring

__all__ = ["CommandCounter", "command_counter"]


class CommandCounter(monitoring.CommandListener):
    """The names of the commands sent while ``counting`` is set."""

    def __init__(self) -> None:
        self.counting = False
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counting:
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...
    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...

    def sent_by(self, call: Callable[[], object]) -> list[str]:
        """The commands ``call`` sends."""
        self.names, self.counting = [], True
        try:
            call()
        finally:
            self.counting = False
        return self.names


@functools.cache
def command_counter() -> CommandCounter:
    """The process's one counter, registered once."""
    counter = CommandCounter()
    monitoring.register(counter)
    return counter
