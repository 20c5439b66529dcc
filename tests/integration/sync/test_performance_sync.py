"""Performance sync in-process against the sandbox: rows, async jobs, failures, resumes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from metasync.models import (
    DailyInsight,
    MetaConnection,
    ReportRun,
    ReportStatus,
    RunStatus,
    SyncRun,
)
from metasync.sync import Period, SyncContext, execute_subtask, run_inline, start_sync
from metasync.sync.refresh import refresh_entity_insights
from tests.integration.sync.conftest import tenant_of_account
from tests.support.inline import perf, short_sleep
from tests.support.sandbox import Sandbox
from tests.support.truth import insight_mismatches


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {
        **sync_env,
        "META_REPORT_POLL_SECONDS": "1",
        "META_REPORT_STUCK_SECONDS": "1",
        "META_RATE_LIMIT_CALLS_PER_HOUR": "100000",
    }


@pytest.fixture
def fast_jobs(world: Sandbox) -> None:
    world.control("POST", "faults", {"job_seconds": 0.05})


@pytest.mark.usefixtures("fast_jobs")
def test_first_sync_reads_30_days_and_equals_the_ground_truth(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    for connection in connections:
        run_inline(ctx, str(connection.pk))  # entities first, as the schedule does
    runs = [perf(ctx, c) for c in connections]
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * len(runs), [r.errors for r in runs]
    assert all(r.period["kind"] == "initial" for r in runs)
    accounts = len(connections[0].ad_account_ids)
    assert runs[0].report_jobs["started"] == 4 * accounts  # 30 days > 14: async, one per level
    assert insight_mismatches(world.truth(), tenant_of_account(connections)) == []
    truth_ads = {r["ad_id"] for r in world.truth()["insights"]["ad"]}
    deleted = [
        a["id"] for a in world.truth()["ads"] if a["effective_status"] in ("DELETED", "ARCHIVED")
    ]
    assert truth_ads & set(deleted), "rows of archived and deleted ads are mirrored too"
    stored = MetaConnection.objects.get(pk=connections[0].pk)
    assert stored.last_performance_sync_at == runs[0].started_at
    assert stored.last_lookback_at == runs[0].started_at

    ids_before = {d.pk for d in DailyInsight.objects}
    again = [perf(ctx, c) for c in connections]
    assert all(r.period["kind"] == "recent" and r.status == RunStatus.SUCCEEDED for r in again)
    assert {d.pk for d in DailyInsight.objects} == ids_before  # re-reading adds no row
    # the accounts' details (a batch item each), then 3 recent days: one read per level
    assert again[0].api_calls == accounts + 4 * accounts
    assert again[0].report_jobs == {}


@pytest.mark.usefixtures("fast_jobs")
def test_failing_skipped_and_stuck_jobs_still_end_complete(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    run_inline(ctx, str(connection.pk))
    world.control(
        "POST",
        "faults",
        {"job_fail_rate": 0.3, "job_skip_rate": 0.2, "job_stuck_rate": 0.2, "seed": 5},
    )
    run = perf(ctx, connection)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.report_jobs["started"] > 4 * len(connection.ad_account_ids)
    assert run.report_jobs.get("split", 0) >= 1
    split = ReportRun.objects(status=ReportStatus.SPLIT).first()
    assert split is not None and len(split.children) == 2
    assert insight_mismatches(world.truth(), tenant_of_account([connection])) == []


@pytest.mark.usefixtures("fast_jobs")
def test_a_timed_out_sync_read_becomes_a_report_job(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    world.control("POST", "faults", {"sync_timeout_days": 3})
    run = perf(ctx, connection, period=Period(preset="last_7d"), levels=("campaign",))
    assert run.status == RunStatus.SUCCEEDED
    assert run.report_jobs["started"] == len(connection.ad_account_ids)
    assert run.rows["campaign"] > 0


def test_reduce_data_halves_the_insights_page(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    world.control("POST", "faults", {"reduce_data_above": 60})
    run = perf(ctx, connections[0], period=Period(preset="last_14d"), levels=("ad",))
    assert run.status == RunStatus.SUCCEEDED and run.rows["ad"] > 60


@pytest.mark.usefixtures("fast_jobs")
def test_a_crashed_step_resumes_the_same_report_run(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    start = start_sync(
        ctx,
        str(connection.pk),
        kind="performance",
        period=Period(preset="last_30d"),
        levels=("ad",),
    )
    sub = start.subtasks[0]
    assert sub.edge == "report:ad"
    assert execute_subtask(ctx, sub).status == "poll"  # started the job
    job = ReportRun.objects.get(job_key=sub.job_key)
    ReportRun.objects(pk=job.pk).update(set__step_open=1)  # a worker died in the next step
    world.control("POST", "counters")
    while (outcome := execute_subtask(ctx, sub)).status == "poll":
        short_sleep(outcome.countdown)
    assert outcome.status == "done"
    assert ReportRun.objects.get(pk=job.pk).report_run_id == job.report_run_id
    assert world.control("GET", "counters")["by_path"].get("POST /act_{id}/insights") is None
    assert SyncRun.objects.get(pk=start.run_id).report_jobs["resumed"] == 1


def test_single_entity_refresh(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    truth = world.truth()
    row = next(
        r for r in truth["insights"]["campaign"] if r["account_id"] in connection.ad_account_ids
    )
    day = date.fromisoformat(row["date_start"])
    written = refresh_entity_insights(
        ctx,
        connection,
        row["campaign_id"],
        "campaign",
        row["account_id"],
        day - timedelta(days=2),
        day,
    )
    stored = DailyInsight.objects(level="campaign", entity_id=row["campaign_id"])
    assert written == stored.count() >= 1
    assert {d.entity_id for d in DailyInsight.objects} == {row["campaign_id"]}


def test_explicit_periods_and_unknown_presets(
    ctx: SyncContext, connections: list[MetaConnection]
) -> None:
    with pytest.raises(ValueError, match="unknown date preset"):
        start_sync(
            ctx, str(connections[0].pk), kind="performance", period=Period(preset="last_forever")
        )
