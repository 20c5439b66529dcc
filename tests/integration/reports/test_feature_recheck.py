"""A feature enabled by an operator is read again shortly after Meta's 24 hours (Meta's page
"Feature Settings API"), not only at the next daily token check: its gated report syncs within
~25 hours of the enabling."""

from __future__ import annotations

from datetime import timedelta

from metasync.feature_rechecks import RECHECK_SWEEP_MINUTES, recheck_enabled_features
from metasync.models import (
    FeatureStatus,
    MetaConnection,
    ReportAccess,
    ReportAccessState,
    ReportRow,
    RunStatus,
    utcnow,
)
from metasync.reports.store import set_enabled
from metasync.sync import SyncContext
from metasync.sync.features import enable_feature
from metasync.sync.token_health import check_tokens
from tests.support.inline import perf
from tests.support.sandbox import Sandbox
from workers.beat import beat_schedule

LIST_PATH = "GET /ads-api/act_{id}/insights/feature-settings/list-features"


def _device_access(tenant: str, account: str) -> ReportAccess:
    return ReportAccess.objects.get(tenant_id=tenant, account_id=account, report="placement_device")


def test_an_enabled_feature_is_read_again_after_24_hours_and_its_report_syncs(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    tenant = connection.tenant_id
    set_enabled(tenant, "placement_device", True)
    opted = {a.removeprefix("act_") for a in world.user()["opted_in_account_ids"]}
    without = next(a for a in connection.ad_account_ids if a not in opted)
    check_tokens(ctx)  # the daily check: not opted in
    assert _device_access(tenant, without).state == ReportAccessState.NOT_OPTED_IN

    enabled_at = utcnow()
    read = enable_feature(
        ctx, connection, without, "impression_device", "ops@example.com", enabled_at
    )
    assert read.states["impression_device"] == FeatureStatus.PENDING

    # before Meta's 24 hours: nothing is read
    world.control("POST", "counters")
    assert recheck_enabled_features(ctx, enabled_at + timedelta(hours=23)) == {}
    assert world.control("GET", "counters")["by_path"].get(LIST_PATH) is None

    # just after them, the sweep reads the account once, without any daily check
    world.control("POST", "feature-settings/elapse", {"hours": 24})
    sweep = enabled_at + timedelta(hours=24, minutes=RECHECK_SWEEP_MINUTES)
    assert recheck_enabled_features(ctx, sweep) == {without: "impression_device enabled"}
    assert world.control("GET", "counters")["by_path"].get(LIST_PATH) == 1
    assert _device_access(tenant, without).state == ReportAccessState.AVAILABLE
    assert recheck_enabled_features(ctx, sweep + timedelta(minutes=30)) == {}  # in effect: done
    assert perf(ctx, connection).status == RunStatus.SUCCEEDED
    assert ReportRow.objects(
        tenant_id=tenant, account_id=without, report="placement_device"
    ).count()

    # and beat runs the sweep often enough for "within ~25 hours"
    entry = beat_schedule(ctx.settings)["recheck-features"]
    assert entry["task"] == "metasync.recheck_features" and "args" not in entry
    assert entry["schedule"].run_every <= timedelta(minutes=RECHECK_SWEEP_MINUTES)


def test_a_feature_still_pending_is_read_again_at_most_hourly_until_48_hours(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    opted = {a.removeprefix("act_") for a in world.user()["opted_in_account_ids"]}
    without = next(a for a in connection.ad_account_ids if a not in opted)
    # recorded two hours before Meta's own enabling: Meta's effective date is then 26 hours
    # after the record, so it still says pending at the first rechecks
    enabled_at = utcnow() - timedelta(hours=2)
    enable_feature(ctx, connection, without, "impression_device", "ops@example.com", enabled_at)
    first = enabled_at + timedelta(hours=24, minutes=5)
    assert recheck_enabled_features(ctx, first) == {without: "impression_device pending"}
    assert recheck_enabled_features(ctx, first + timedelta(minutes=30)) == {}
    assert recheck_enabled_features(ctx, first + timedelta(minutes=65)) == {
        without: "impression_device pending"
    }
    assert recheck_enabled_features(ctx, enabled_at + timedelta(hours=49)) == {}
