"""Report jobs are bounded: age first, (100, 33) for a bounded time, a few pages per step, and a
split asks Meta which campaigns have data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from metasync.models import MetaConnection, ReportRun, ReportStatus, utcnow
from metasync.sync import Period, Subtask, SyncContext, report_jobs, start_sync
from metasync.sync.report_jobs import JobStep, report_step
from tests.support.sandbox import Sandbox


def _job_subtask(ctx: SyncContext, connection: MetaConnection, level: str = "ad") -> Subtask:
    start = start_sync(
        ctx,
        str(connection.pk),
        kind="performance",
        period=Period(preset="last_30d"),
        levels=(level,),
    )
    sub = start.subtasks[0]
    assert sub.edge == f"report:{level}"
    return sub


def _step(ctx: SyncContext, connection: MetaConnection, sub: Subtask) -> JobStep:
    return report_step(ctx, ctx.client_for(connection), connection, sub)


def _age(sub: Subtask, seconds: float) -> None:
    ReportRun.objects(job_key=sub.job_key).update(
        set__created_at=utcnow() - timedelta(seconds=seconds)
    )


def test_a_job_older_than_an_hour_is_not_polled_again(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """Before: the age limit was checked after the poll decision: a job that kept answering
    kept being polled."""
    world.control("POST", "faults", {"job_stuck_rate": 1.0, "job_seconds": 0.01})
    connection = connections[0]
    sub = _job_subtask(ctx, connection)
    assert _step(ctx, connection, sub).status == "poll"  # started
    _age(sub, 3700)
    world.control("POST", "counters")
    assert _step(ctx, connection, sub).status == "poll"  # started again, not polled
    paths = world.control("GET", "counters")["by_path"]
    assert "GET /{id}" not in paths
    job = ReportRun.objects.get(job_key=sub.job_key)
    assert "older than an hour" in (job.error_message or "")
    assert job.status == ReportStatus.PENDING and job.attempts == 1


def test_a_job_meta_never_shows_is_given_up_after_the_bound(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """Before: (100, 33) meant "poll again", for as long as the job's age allowed."""
    world.control("POST", "faults", {"job_never_visible_rate": 1.0})
    connection = connections[0]
    sub = _job_subtask(ctx, connection)
    _step(ctx, connection, sub)
    assert _step(ctx, connection, sub).status == "poll"  # (100, 33) at first: poll again
    _age(sub, ctx.settings.META_REPORT_INVISIBLE_SECONDS + 5)
    _step(ctx, connection, sub)
    job = ReportRun.objects.get(job_key=sub.job_key)
    assert "(100, 33)" in (job.error_message or "")
    assert job.status == ReportStatus.PENDING  # to be started once more, then split


def test_a_split_asks_meta_which_campaigns_have_data(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """Before: the split trusted the mirror alone; with no entity sync yet it had no campaigns
    and halved the range instead."""
    world.control("POST", "faults", {"job_fail_rate": 1.0, "job_seconds": 0})
    connection = connections[0]
    sub = _job_subtask(ctx, connection)
    result = _step(ctx, connection, sub)
    while result.status == "poll":
        result = _step(ctx, connection, sub)
    assert ReportRun.objects.get(job_key=sub.job_key).status == ReportStatus.SPLIT
    halves = [ReportRun.objects.get(job_key=part.job_key) for part in result.follow_ups]
    split_ids = sorted(
        v
        for half in halves
        for r in half.params["filtering"]
        if r["field"] == "campaign.id"
        for v in r["value"]
    )
    truth = world.truth()
    with_data = sorted(
        {
            r["campaign_id"]
            for r in truth["insights"]["campaign"]
            if r["account_id"] == sub.account_id
        }
    )
    assert split_ids == with_data
    assert all(h.params["time_range"] == halves[0].params["time_range"] for h in halves)


def test_a_small_job_read_synchronously_reads_a_few_pages_per_step(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: the last resort read every page of the job in one task."""
    monkeypatch.setattr(report_jobs, "INSIGHTS_PAGE_SIZE", 1)
    world.control("POST", "faults", {"job_fail_rate": 1.0, "job_seconds": 0})
    connection = connections[0]
    sub = _job_subtask(ctx, connection, level="account")  # no campaigns to split by
    steps = []
    result = _step(ctx, connection, sub)
    while result.status == "poll" or result.follow_ups:
        if result.follow_ups:  # range halves: follow the recent part down to a short one
            sub = result.follow_ups[-1]
        result = _step(ctx, connection, sub)
        steps.append(result.status)
        assert len(steps) < 200
    job = ReportRun.objects.get(job_key=sub.job_key)
    assert job.mode == "sync" and job.status == ReportStatus.COMPLETED
    pages = world.control("GET", "counters")["by_path"]["GET /act_{id}/insights"]
    assert pages > report_jobs.PAGES_PER_TASK  # more pages than one step may read
    assert steps.count("poll") >= pages // report_jobs.PAGES_PER_TASK
