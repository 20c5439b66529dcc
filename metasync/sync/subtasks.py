"""The units of fan-out work and what happens after each, shared by both kinds of sync."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metasync.graph import MetaAPIError
from metasync.models import SyncRun, utcnow

__all__ = [
    "FULL",
    "MAX_COUNTDOWN_SECONDS",
    "OLDER",
    "RECENT",
    "IncompleteListing",
    "Outcome",
    "StartResult",
    "Subtask",
    "Tally",
    "error_record",
    "slot",
]

FULL = "full"  # ``until`` of an entity subtask that lists the whole edge (and tombstones)
RECENT, OLDER = 0, 1  # ranks of planned reads: today and yesterday of every account first
MAX_COUNTDOWN_SECONDS = 3000.0  # below the lock TTL (3600 s) and the visibility timeout


def slot(key: str) -> str:
    """The run outbox field of subtask ``key`` (keys hold dots and cursors: not field names)."""
    return "s" + hashlib.sha256(key.encode()).hexdigest()[:24]


class IncompleteListing(Exception):
    """A listing (an edge, insights rows) ended before Meta's last page, e.g. on a repeated
    cursor: what it read is kept, the subtask fails so the run is partial, and nothing is
    concluded from what it did not return (no tombstones)."""


@dataclass(frozen=True)
class Subtask:
    """One unit of work of a run.

    ``edge`` is an entity edge (``campaigns``, ``adsets``, ``ads``, ``adcreatives``), a
    synchronous insights read (``insights:<level>``) or an async report job (``report:<level>``).
    ``after`` continues a listing; ``since``/``until`` (YYYY-MM-DD, account time) bound insights;
    ``job_key`` names the report job.
    """

    run_id: str
    connection_id: str
    account_id: str
    edge: str
    after: str | None = None
    since: str | None = None
    until: str | None = None
    job_key: str | None = None

    @property
    def key(self) -> str:
        parts = [self.account_id, self.edge, self.since, self.until, self.job_key, self.after]
        return ":".join(part or "-" for part in parts)

    @property
    def is_insights(self) -> bool:
        return self.edge.startswith(("insights:", "report:"))

    @classmethod
    def from_kwargs(cls, arguments: Mapping[str, Any]) -> Subtask:
        """The inverse of :meth:`as_kwargs` (extra entries, such as a stored ``key``, ignored)."""
        names = ("run_id", "connection_id", "account_id", "edge")
        optional = ("after", "since", "until", "job_key")
        return cls(
            *(str(arguments[name]) for name in names),
            *(arguments.get(name) for name in optional),
        )

    def as_record(self) -> dict[str, str | None]:
        """The task arguments and the key, as the run's outbox stores them."""
        return {**self.as_kwargs(), "key": self.key}

    def as_kwargs(self) -> dict[str, str | None]:
        """JSON-safe, secret-free task arguments (readable in Flower)."""
        return {
            "run_id": self.run_id,
            "connection_id": self.connection_id,
            "account_id": self.account_id,
            "edge": self.edge,
            "after": self.after,
            "since": self.since,
            "until": self.until,
            "job_key": self.job_key,
        }


@dataclass
class StartResult:
    run_id: str | None
    status: str  # started | resumed | skipped | inactive | missing | failed | finished
    reason: str = ""
    subtasks: list[Subtask] = field(default_factory=list)


@dataclass
class Outcome:
    """``done`` / ``failed`` / ``gone``; ``retry`` (throttled) and ``poll`` (a report job is
    still running) ask to run the same subtask again after ``countdown`` seconds."""

    status: str
    countdown: float = 0.0
    follow_ups: list[Subtask] = field(default_factory=list)
    closed: SyncRun | None = None


@dataclass
class Tally:
    """What one subtask wrote, added to its run once, when it finishes (not page by page)."""

    increments: dict[str, float] = field(default_factory=dict)

    def page(self, group: str, counts: Mapping[str, int]) -> None:
        """One page written: ``group`` is ``entities`` or ``rows``; ``counts`` by type."""
        self.add({"pages": 1, **{f"{group}.{name}": n for name, n in counts.items()}})

    def add(self, counts: Mapping[str, float]) -> None:
        for name, value in counts.items():
            self.increments[name] = self.increments.get(name, 0) + value


def error_record(
    sub: Subtask | None, exc: BaseException, account_id: str | None = None
) -> dict[str, Any]:
    """A JSON-safe error for ``SyncRun.errors``: type, message, Meta's codes, where."""
    record = (
        exc.as_record()
        if isinstance(exc, MetaAPIError)
        else {"type": type(exc).__name__, "message": str(exc)}
    )
    return {
        **record,
        "account_id": sub.account_id if sub else account_id,
        "edge": sub.edge if sub else None,
        "at": utcnow(),
    }
