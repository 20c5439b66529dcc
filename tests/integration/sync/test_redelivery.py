"""A subtask delivered again after its worker died, at every point of its life, loses nothing
and counts nothing twice: its follow-ups come from the run's outbox, not from a second read."""

from __future__ import annotations

import time

import pytest

from metasync.models import MetaConnection, ReportRun, ReportStatus, SyncRun
from metasync.sync import Period, Subtask, SyncContext, execute_subtask, start_sync
from metasync.sync.account import runs as run_book
from metasync.sync.pipeline import report_step
from tests.support.sandbox import Sandbox


def handoff(*subtasks: Subtask) -> dict[str, dict[str, str | None]]:
    return {sub.key: sub.as_record() for sub in subtasks}


def test_a_finished_subtask_delivered_again_queues_its_recorded_follow_ups(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    start = start_sync(ctx, str(connections[0].pk))
    parent = start.subtasks[0]
    follow = Subtask(parent.run_id, parent.connection_id, parent.account_id, parent.edge, "c2")
    # the worker finished the parent, handing off ``follow``, and died before queueing it
    run_book.finish(parent.run_id, parent.key, follow_ups=handoff(follow))
    world.control("POST", "counters")  # reset
    again = execute_subtask(ctx, parent)
    assert again.status == "done" and again.follow_ups == [follow]
    assert world.control("GET", "counters")["graph_calls"] == 0, "no second read of Meta"
    run = SyncRun.objects.get(pk=start.run_id)
    assert run.pending == len(start.subtasks)  # one out, one in, nothing counted twice
    in_flight = [entry["key"] for entry in run.inflight.values()]
    assert in_flight.count(follow.key) == 1 and parent.key not in in_flight
    assert run.subtasks_done == 1

    execute_subtask(ctx, follow)  # once the follow-up ran, a redelivered parent hands off nothing
    assert execute_subtask(ctx, parent).follow_ups == []


def test_a_follow_up_another_subtask_already_scheduled_counts_once(
    ctx: SyncContext, connections: list[MetaConnection]
) -> None:
    start = start_sync(ctx, str(connections[0].pk))
    first, second = start.subtasks[:2]
    shared = Subtask(first.run_id, first.connection_id, first.account_id, first.edge, "same")
    run_book.finish(first.run_id, first.key, follow_ups=handoff(shared))
    run_book.finish(second.run_id, second.key, follow_ups=handoff(shared))
    run = SyncRun.objects.get(pk=start.run_id)
    assert run.pending == len(start.subtasks) - 1  # two out, one in
    in_flight = [entry["key"] for entry in run.inflight.values()]
    assert in_flight.count(shared.key) == 1 and second.key not in in_flight
    assert run.subtasks_done == 2


def test_a_split_job_delivered_again_hands_off_its_parts(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    start_entity = start_sync(ctx, str(connection.pk))
    for sub in start_entity.subtasks:
        execute_subtask(ctx, sub)  # campaigns mirrored: a job splits by campaign halves
    world.control("POST", "faults", {"job_seconds": 0.05, "job_fail_rate": 1.0})
    start = start_sync(
        ctx,
        str(connection.pk),
        kind="performance",
        period=Period(preset="last_30d"),
        levels=("ad",),
    )
    sub = start.subtasks[0]
    client = ctx.client_for(connection)

    def step() -> list[Subtask]:
        while (result := report_step(ctx, client, connection, sub)).status == ("poll"):
            time.sleep(min(result.countdown, 0.1))
        return result.follow_ups

    parts = step()
    assert len(parts) == 2 and ReportRun.objects.get(job_key=sub.job_key).status == (
        ReportStatus.SPLIT
    )
    # the worker died after the split, before the parts were handed off: the step runs again
    assert step() == parts


def test_a_start_that_failed_before_planning_starts_again_when_delivered_again(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """The first attempt of a start failed reading the accounts (a 5xx); its task is retried
    with the same id and must plan the run instead of resuming an empty one that never ends."""
    from metasync.graph import TransientError
    from metasync.models import RunStatus

    world.control("POST", "faults", {"error_5xx_rate": 1.0})
    with pytest.raises(TransientError):
        start_sync(ctx, str(connections[0].pk), request_id="task-1")
    world.control("PUT", "faults", {})
    again = start_sync(ctx, str(connections[0].pk), request_id="task-1")
    assert again.status == "started" and again.subtasks
    for sub in again.subtasks:
        execute_subtask(ctx, sub)
    assert SyncRun.objects.get(pk=again.run_id).status == RunStatus.SUCCEEDED
