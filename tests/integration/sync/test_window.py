"""A run's fan-out through a bounded window: at most SYNC_SUBTASKS_IN_FLIGHT subtasks queued
or running, recent days of every account first, nothing lost or counted twice."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from bson import ObjectId

from metasync.config import load_settings
from metasync.models import Campaign, MetaConnection, QueuedSubtask, RunStatus, SyncRun
from metasync.sync import SyncContext, execute_subtask, start_sync
from metasync.sync.subtasks import Subtask
from tests.integration.sync.conftest import tenant_of_account
from tests.support.sandbox import Sandbox
from tests.support.truth import entity_mismatches


def _narrow(sync_env: dict[str, str], window: int) -> SyncContext:
    return SyncContext.from_settings(
        load_settings({**sync_env, "SYNC_SUBTASKS_IN_FLIGHT": str(window)})
    )


def _drain(ctx: SyncContext, first: list[Subtask], run_id: str, window: int) -> list[Subtask]:
    """Run subtasks one at a time in the order they were sent, checking the window after
    each; returns them in that order."""
    todo, done = list(first), []
    while todo:
        sub = todo.pop(0)
        outcome = execute_subtask(ctx, sub)
        if outcome.status in ("retry", "poll"):  # a report job still running: ask again
            time.sleep(min(outcome.countdown, 0.2))
            todo.append(sub)
        todo += outcome.follow_ups
        done.append(sub)
        raw = SyncRun._get_collection().find_one({"_id": ObjectId(run_id)})
        assert len(raw.get("inflight") or {}) <= window
        assert raw.get("in_flight", 0) == len(raw.get("inflight") or {})
        assert len(todo) <= window
    return done


@pytest.mark.parametrize("window", [1, 3])
def test_a_run_keeps_at_most_its_window_in_flight(
    sync_env: dict[str, str], connections: list[MetaConnection], world: Sandbox, window: int
) -> None:
    ctx = _narrow(sync_env, window)
    for connection in connections:
        start = start_sync(ctx, str(connection.pk), full=True)
        # campaigns, ad sets, ads, creatives, four libraries and the activity log
        planned = 9 * len(connection.ad_account_ids)
        assert len(start.subtasks) == window
        assert QueuedSubtask.objects(run_id=start.run_id).count() == planned
        started = SyncRun.objects.get(pk=start.run_id)
        assert (started.queued, started.released, started.in_flight) == (planned, window, window)
        done = _drain(ctx, start.subtasks, str(start.run_id), window)
        run = SyncRun.objects.get(pk=start.run_id)
        assert run.status == RunStatus.SUCCEEDED, run.errors
        assert run.subtasks_done == len(done) >= planned and run.pending == 0
        assert QueuedSubtask.objects(run_id=start.run_id).count() == 0
        written = Campaign.objects(tenant_id=connection.tenant_id).count()
        assert run.entities["campaigns"] == written  # each page counted once
    assert entity_mismatches(world.truth(), tenant_of_account(connections)) == []


def test_recent_days_of_every_account_come_before_older_ranges(
    sync_env: dict[str, str], connections: list[MetaConnection]
) -> None:
    """An initial performance sync under a backlog (a window of one): yesterday and today of
    every account and level are read before any older range of any account."""
    ctx = _narrow(sync_env, 1)
    connection = connections[0]
    start = start_sync(ctx, str(connection.pk), kind="performance")
    done = _drain(ctx, start.subtasks, str(start.run_id), 1)
    run = SyncRun.objects.get(pk=start.run_id)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    reads = {(s.account_id, s.edge, s.since, s.until): s for s in reversed(done)}
    firsts = sorted(reads.values(), key=done.index)  # each range once, when first read
    levels = len(ctx.settings.META_INSIGHTS_LEVELS)
    accounts = len(connection.ad_account_ids)

    def recent(sub: Subtask) -> bool:
        since, until = date.fromisoformat(sub.since or ""), date.fromisoformat(sub.until or "")
        return until - since == timedelta(days=1)

    kinds = [recent(s) for s in firsts]
    assert kinds[: accounts * levels] == [True] * (accounts * levels)
    assert not any(kinds[accounts * levels :]) and len(kinds) > accounts * levels
