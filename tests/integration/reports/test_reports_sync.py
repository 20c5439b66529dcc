"""Reports read in-process against the sandbox: every prebuilt report equals the ground truth,
breakdown rows add up to the daily rows, reads are shared, and reconciliation flags a day."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from metasync.models import (
    DailyInsight,
    MetaConnection,
    Reconciliation,
    ReportRow,
    RunPlan,
    RunStatus,
    SyncRun,
)
from metasync.reports.definitions import PREBUILT
from metasync.reports.store import set_enabled
from metasync.sync import SyncContext, run_inline
from metasync.sync.plan.report_plan import report_range
from tests.support.inline import perf, short_sleep
from tests.support.reports import report_mismatches, report_truth, served_truth
from tests.support.sandbox import Sandbox


def test_every_prebuilt_report_equals_the_ground_truth(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    world.control("POST", "faults", {"job_seconds": 0.05})
    for name in PREBUILT:
        set_enabled(connection.tenant_id, name, True)
    run = perf(ctx, connection)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    ranges = RunPlan.of(run.pk).ranges
    opted = {a.removeprefix("act_") for a in world.user()["opted_in_account_ids"]}
    problems: list[str] = []
    for account_id in connection.ad_account_ids:
        since, until = (date.fromisoformat(day) for day in ranges[account_id])
        for report in PREBUILT.values():
            days = report_range(report, "initial", since, until, until)
            assert days is not None
            assert report_truth(world, report, account_id, *days), report.name
            expected = served_truth(world, report, account_id, *days)
            problems += report_mismatches(expected, report, connection.tenant_id, account_id)
            assert run.rows.get(report.name, 0) >= len(expected) // 2 or report.name == "video"
    assert opted & set(connection.ad_account_ids) and set(connection.ad_account_ids) - opted
    assert problems == []


def test_breakdown_rows_add_up_to_the_daily_rows_and_reach_is_not_summed(
    ctx: SyncContext, connection: MetaConnection
) -> None:
    for name in ("age_gender", "placement", "hourly"):
        set_enabled(connection.tenant_id, name, True)
    assert perf(ctx, connection).status == RunStatus.SUCCEEDED
    daily = {
        (d.entity_id, d.date): d
        for d in DailyInsight.objects(tenant_id=connection.tenant_id, level="ad")
    }
    assert daily
    for name in ("age_gender", "placement", "hourly"):
        sums: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        reach_sum: dict[tuple[str, str], int] = defaultdict(int)
        for row in ReportRow.objects(tenant_id=connection.tenant_id, report=name):
            key = (row.entity_id, row.span)
            for metric in ("impressions", "clicks", "spend"):
                sums[key][metric] += Decimal(str(getattr(row, metric)))
            reach_sum[key] += row.reach or 0
        covered = [key for key in daily if key in sums]
        assert covered, name
        for key in covered:
            for metric in ("impressions", "clicks", "spend"):
                assert sums[key][metric] == Decimal(str(getattr(daily[key], metric))), (name, key)
        if name == "placement":  # the same people see several placements
            assert any(reach_sum[key] > (daily[key].reach or 0) for key in covered)
        if name == "hourly":
            assert all(row.reach is None for row in ReportRow.objects(report="hourly"))


def test_video_rides_on_the_daily_read_and_shapes_share_one_request(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    from metasync.reports.definitions import ReportDefinition
    from metasync.reports.store import add_custom

    assert perf(ctx, connection).status == RunStatus.SUCCEEDED  # initial run: daily rows
    world.control("POST", "counters")
    plain = perf(ctx, connection)  # a recent run, no report
    plain_calls = world.control("GET", "counters")["graph_calls"]
    set_enabled(connection.tenant_id, "video", True)
    world.control("POST", "counters")
    with_video = perf(ctx, connection)
    assert plain.period["kind"] == with_video.period["kind"] == "recent"
    assert with_video.rows.get("video", 0) > 0
    assert world.control("GET", "counters")["graph_calls"] == plain_calls  # no call more
    # one custom report of the country shape rides on the prebuilt country's request
    set_enabled(connection.tenant_id, "country", True)
    add_custom(
        connection.tenant_id,
        ReportDefinition(
            name="country_clicks",
            level="ad",
            fields=("clicks", "inline_link_clicks"),
            breakdowns=("country",),
            attribution_windows=PREBUILT["country"].attribution_windows,
        ),
    )
    world.control("POST", "counters")
    shared = perf(ctx, connection)
    calls = world.control("GET", "counters")["graph_calls"]
    accounts = len(connection.ad_account_ids)
    assert calls == plain_calls + accounts  # one more request per account for both reports
    assert shared.rows.get("country") == shared.rows.get("country_clicks") > 0


def test_reconciliation_flags_the_corrupted_day_and_verify_lists_it(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection, sync_env: dict[str, str]
) -> None:
    account_id = connection.ad_account_ids[0]
    first_day, _ = world.truth()["windows"][account_id]
    bad_day = (date.fromisoformat(first_day) + timedelta(days=3)).isoformat()
    world.control("POST", "faults", {"corrupt_account_days": [f"{account_id}:{bad_day}"]})
    run = perf(ctx, connection)
    assert run.status == RunStatus.SUCCEEDED
    outcomes = {(r.account_id, r.date): r for r in Reconciliation.objects()}
    assert outcomes[(account_id, bad_day)].status == "mismatch"
    assert outcomes[(account_id, bad_day)].differences["spend"] > 0.5
    assert {r.status for key, r in outcomes.items() if key != (account_id, bad_day)} == {"ok"}
    assert run.reconciliation == {"ok": len(outcomes) - 1, "mismatch": 1}

    env = {"PATH": os.environ.get("PATH", ""), **sync_env}
    verify = [sys.executable, "-m", "metasync", "verify", "--tenant", connection.tenant_id]
    listed = subprocess.run(verify, env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert bad_day in listed.stdout and "mismatch" in listed.stdout
    assert f"1 mismatch, {len(outcomes) - 1} ok" in listed.stdout
    strict = subprocess.run(
        [*verify, "--fail-on-mismatch"], env=env, capture_output=True, text=True, timeout=60
    )
    assert strict.returncode == 1
    clean = subprocess.run(
        [
            *verify,
            "--fail-on-mismatch",
            "--since",
            (date.fromisoformat(bad_day) + timedelta(1)).isoformat(),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert clean.returncode == 0, clean.stdout


def test_cli_refuses_an_invalid_report_before_any_call(
    world: Sandbox, connection: MetaConnection, sync_env: dict[str, str]
) -> None:
    env = {"PATH": os.environ.get("PATH", ""), **sync_env}
    world.control("POST", "counters")
    base = [sys.executable, "-m", "metasync", "reports"]
    refused = subprocess.run(
        [*base, "add", "views", "--tenant", connection.tenant_id, "--windows", "7d_view"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "'7d_view' was retired by Meta on 2026-01-12" in refused.stderr
    added = subprocess.run(
        [
            *base,
            "add",
            "by_age",
            "--tenant",
            connection.tenant_id,
            "--breakdowns",
            "age",
            "--windows",
            "1d_click,7d_click",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    listed = subprocess.run(
        [*base, "list", "--tenant", connection.tenant_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "by_age" in listed.stdout and "age_gender" in listed.stdout
    assert world.control("GET", "counters")["graph_calls"] == 0


def test_old_breakdown_reach_is_read_through_a_job_and_its_throttle_kept(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    from metasync.models import ReportRun
    from metasync.reports.definitions import ReportDefinition
    from metasync.reports.store import add_custom
    from metasync.sync import Period

    world.control("POST", "faults", {"job_seconds": 0.05})
    add_custom(
        connection.tenant_id,
        ReportDefinition(
            name="country_reach",
            level="campaign",
            fields=("impressions", "reach"),
            breakdowns=("country",),
        ),
    )
    since = date.today() - timedelta(days=430)  # 5 days, over 13 months ago
    period = Period(since=since, until=since + timedelta(days=4))
    start = run_inline(
        ctx, str(connection.pk), kind="performance", period=period, sleep=short_sleep
    )
    run = SyncRun.objects.get(pk=start.run_id)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    jobs = list(ReportRun.objects(sync_run_id=str(run.pk)))
    assert {job.level for job in jobs} == {"campaign"}  # the daily rows read synchronously
    assert len(jobs) == len(connection.ad_account_ids)
    assert all(job.params["breakdowns"] == "country" for job in jobs)
    assert sorted(job.reach_throttle_pct for job in jobs) == [10, 10]  # per account, per day
