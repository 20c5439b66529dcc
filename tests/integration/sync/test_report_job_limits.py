"""Report jobs are bounded: age first, (100, 33) for a bounded time, a few pages per step, and a
split asks Meta which campaigns have data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from metasync.graph import InvalidRequestError
from metasync.models import MetaConnection, ReportRun, ReportStatus, utcnow
from metasync.sync import Period, Subtask, SyncContext, start_sync
from metasync.sync.pipeline import report_step
from metasync.sync.read import report_jobs
from metasync.sync.read.report_jobs import JobStep
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


def _until_decided(ctx: SyncContext, connection: MetaConnection, sub: Subtask) -> JobStep:
    """Steps until the job has failed once and metasync decided (started again, split)."""
    result = _step(ctx, connection, sub)  # started
    while result.status == "poll" and ReportRun.objects.get(job_key=sub.job_key).polls == 0:
        result = _step(ctx, connection, sub)
    return result


def test_a_failed_job_meta_calls_invalid_is_given_up_with_its_v25_fields(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """Marketing API v25.0: a failed job says why. An invalid request never succeeds: before,
    it was started again and split into more failing jobs."""
    world.control("POST", "faults", {"job_fail_rate": 1.0, "job_fail_code": 100, "job_seconds": 0})
    connection = connections[0]
    sub = _job_subtask(ctx, connection)
    with pytest.raises(InvalidRequestError) as raised:
        _until_decided(ctx, connection, sub)
    assert "no longer supported" in raised.value.message
    assert raised.value.user_message and raised.value.user_title == "Report cannot be produced"
    job = ReportRun.objects.get(job_key=sub.job_key)
    assert job.status == ReportStatus.FAILED and job.attempts == 1 and not job.children
    assert (job.error_code, job.error_subcode) == (100, 1487851)
    assert job.error_user_title == "Report cannot be produced" and job.error_user_msg
    # the subtask run again (its worker died before the run recorded the error) says it again
    with pytest.raises(InvalidRequestError) as again:
        _step(ctx, connection, sub)
    assert again.value.user_title == "Report cannot be produced"
    assert ReportRun.objects.get(job_key=sub.job_key).attempts == 1  # not started again


def test_a_failed_job_with_too_much_data_is_split_at_once(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """Before v25's fields every failure was started once more first: one wasted job."""
    world.control("POST", "faults", {"job_fail_rate": 1.0, "job_fail_code": 1, "job_seconds": 0})
    connection = connections[0]
    sub = _job_subtask(ctx, connection)
    result = _until_decided(ctx, connection, sub)
    job = ReportRun.objects.get(job_key=sub.job_key)
    assert job.status == ReportStatus.SPLIT and job.attempts == 1
    assert result.follow_ups and job.error_subcode == 1487534


def test_a_failed_job_meta_calls_temporary_is_started_again(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    world.control("POST", "faults", {"job_fail_rate": 1.0, "job_fail_code": 2, "job_seconds": 0})
    connection = connections[0]
    sub = _job_subtask(ctx, connection)
    _until_decided(ctx, connection, sub)
    job = ReportRun.objects.get(job_key=sub.job_key)
    assert job.status == ReportStatus.PENDING and job.attempts == 1  # to be started again
    assert (job.error_code, job.error_user_title) == (2, "Temporary problem")
