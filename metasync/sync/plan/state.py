"""What a subtask works with, read once: from its run's state the run (with its outbox) and the
connection (:func:`plan_subtask`), then the mirrored ad account and the read its edge names
(:func:`plan_read`, which the pipeline calls where a failure is recorded on the run). The other
stages take these as values and read none of them again."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from bson import ObjectId

from metasync.models import AdAccount, ConnectionStatus, MetaConnection, RunStatus, SyncRun
from metasync.sync.mirror import account_of
from metasync.sync.shapes.targets import ReadTarget, target_of
from metasync.sync.subtasks import Subtask, slot

__all__ = ["Planned", "ReadPlan", "plan_read", "plan_subtask"]

Verdict = Literal["ready", "run_over", "redelivered", "connection_gone"]


@dataclass(frozen=True)
class Planned:
    """``ready``: read and write with these; ``run_over``: the run has ended (nothing to do);
    ``redelivered``: the subtask finished before (its follow-ups are sent again);
    ``connection_gone``: the connection was removed or stopped (the run already says why)."""

    verdict: Verdict
    run: SyncRun | None = None
    connection: MetaConnection | None = None


class ReadPlan:
    """What a subtask reads with: what an insights read is for (``target``, None for an edge),
    and the mirrored ad account (``account``: currency, time zone; None before the account's
    first sync), read once, when first asked for (a report job's poll never asks)."""

    def __init__(self, connection: MetaConnection, account_id: str, target: ReadTarget | None):
        self._connection, self._account_id = connection, account_id
        self.target = target

    @cached_property
    def account(self) -> AdAccount | None:
        return account_of(self._connection, self._account_id)


def plan_subtask(sub: Subtask) -> Planned:
    """Read the run ``sub`` belongs to and its connection (two reads)."""
    # the run with its outbox (a window of entries), without its errors
    raw = SyncRun._get_collection().find_one({"_id": ObjectId(sub.run_id)}, {"errors": 0})
    if raw is None or raw.get("status") != RunStatus.RUNNING:
        return Planned("run_over")
    if slot(sub.key) not in (raw.get("inflight") or {}):  # redelivered after it finished
        return Planned("redelivered")
    run = SyncRun._from_son(raw)
    # the connection without its account list (a subtask works on one account it names)
    connection = MetaConnection.objects(pk=sub.connection_id).exclude("ad_account_ids").first()
    if connection is None or connection.status != ConnectionStatus.ACTIVE:
        return Planned("connection_gone", run)
    return Planned("ready", run, connection)


def plan_read(sub: Subtask, connection: MetaConnection) -> ReadPlan:
    """The account ``sub`` reads, and for an insights read what it is for (its reports looked
    up by name)."""
    target = None
    if sub.is_insights:
        target = target_of(sub.edge.split(":", 1)[1], connection.tenant_id)
    return ReadPlan(connection, sub.account_id, target)
