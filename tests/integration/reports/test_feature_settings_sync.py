"""Opt-in states from Meta, not guesses: each account's Ads Insights features are read through
Meta's Feature Settings API (page of that name, 2026-08-07) on the daily token check, stored,
and decide which gated reports are read; enabling one is noticed once Meta puts it in effect.
Against the sandbox, which serves that API on its own host."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from metasync.config import load_settings
from metasync.models import (
    AccountFeatures,
    FeatureStatus,
    MetaConnection,
    ReportAccess,
    ReportAccessState,
    ReportRow,
    RunStatus,
)
from metasync.reports.store import set_enabled
from metasync.sync import SyncContext
from metasync.sync.features import enable_feature, read_features
from metasync.sync.token_health import check_tokens
from tests.support.inline import perf
from tests.support.sandbox import Sandbox

GATED = ("placement_device", "hourly_audience", "comscore_market")


def _split(world: Sandbox, connection: MetaConnection) -> tuple[str, str]:
    opted = {a.removeprefix("act_") for a in world.user()["opted_in_account_ids"]}
    enabled = next(a for a in connection.ad_account_ids if a in opted)
    without = next(a for a in connection.ad_account_ids if a not in opted)
    return enabled, without


def _access(tenant: str, account: str) -> dict[str, ReportAccess]:
    return {a.report: a for a in ReportAccess.objects(tenant_id=tenant, account_id=account)}


def _rows(tenant: str, account: str, report: str) -> int:
    return int(ReportRow.objects(tenant_id=tenant, account_id=account, report=report).count())


def test_features_are_read_stored_and_gated_reports_skipped_until_enabled(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    tenant = connection.tenant_id
    for name in (*GATED, "placement"):
        set_enabled(tenant, name, True)
    enabled, without = _split(world, connection)

    # the daily token check reads every account's features on the Feature Settings API's host
    world.control("POST", "counters")
    check_tokens(ctx)
    paths = world.control("GET", "counters")["by_path"]
    assert paths.get("GET /ads-api/act_{id}/insights/feature-settings/list-features") == 2
    stored = {f.account_id: f for f in AccountFeatures.objects(tenant_id=tenant)}
    assert {n: stored[enabled].status(n) for n in stored[enabled].features} == dict.fromkeys(
        ("comscore", "frequency_value", "impression_device", "time_of_day_viewer_tz"),
        FeatureStatus.ENABLED,
    )
    assert stored[without].status("impression_device") == FeatureStatus.NOT_ENABLED
    assert stored[without].status("time_of_day_viewer_tz") == FeatureStatus.PENDING
    assert stored[without].read_at is not None and stored[without].error is None
    access = _access(tenant, without)
    assert {name: access[name].state for name in GATED} == dict.fromkeys(
        GATED, ReportAccessState.NOT_OPTED_IN
    )
    assert access["comscore_market"].feature == "comscore"  # comscore is gated too
    assert access["hourly_audience"].feature_status == FeatureStatus.PENDING
    assert all(access[name].source == "feature_settings" for name in GATED)

    # the run spends no call on the gated reports of the account without the features
    world.control("POST", "counters")
    assert perf(ctx, connection).status == RunStatus.SUCCEEDED
    calls = world.control("GET", "counters")["by_account"]
    assert calls[without] <= calls[enabled] - len(GATED), calls
    after = _access(tenant, without)
    assert all(after[name].source == "feature_settings" for name in GATED)  # no guess made
    assert all(_rows(tenant, without, name) == 0 for name in GATED)
    assert all(_rows(tenant, enabled, name) > 0 for name in GATED)
    assert _rows(tenant, without, "placement") > 0

    # an operator enables impression_device: pending at once, in effect after 24 hours
    read = enable_feature(ctx, connection, without, "impression_device", "ops@example.com")
    assert read.states["impression_device"] == FeatureStatus.PENDING
    assert _access(tenant, without)["placement_device"].feature_status == FeatureStatus.PENDING
    features = AccountFeatures.objects.get(tenant_id=tenant, account_id=without)
    assert features.enabled_by["impression_device"]["by"] == "ops@example.com"
    world.control("POST", "feature-settings/elapse", {"hours": 24})
    check_tokens(ctx)  # the next daily check notices
    access = _access(tenant, without)
    assert access["placement_device"].state == ReportAccessState.AVAILABLE
    assert access["comscore_market"].state == ReportAccessState.NOT_OPTED_IN
    assert perf(ctx, connection).status == RunStatus.SUCCEEDED
    assert _rows(tenant, without, "placement_device") > 0  # the gated report now syncs
    assert _rows(tenant, without, "comscore_market") == 0


def test_an_unreadable_feature_settings_api_falls_back_to_the_inference(
    sync_env: dict[str, str], world: Sandbox, connection: MetaConnection
) -> None:
    """When the API cannot be read the error is recorded and nothing is decided from it: the
    empty-answer inference still says "not opted in"."""
    broken = SyncContext.from_settings(
        load_settings({**sync_env, "META_ADS_API_URL": f"{world.url}/nowhere"})
    )
    tenant = connection.tenant_id
    set_enabled(tenant, "placement_device", True)
    _, without = _split(world, connection)
    reads = {r.account_id: r for r in read_features(broken, connection)}
    assert reads[without].error and not reads[without].states
    features = AccountFeatures.objects.get(tenant_id=tenant, account_id=without)
    assert features.error and features.read_at is None
    assert "placement_device" not in _access(tenant, without)
    assert perf(broken, connection).status == RunStatus.SUCCEEDED
    access = _access(tenant, without)["placement_device"]
    assert access.state == ReportAccessState.NOT_OPTED_IN and access.source == "answer"


@pytest.mark.parametrize("feature", ["dma", "metric"])
def test_an_unknown_feature_is_refused_before_any_call(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection, feature: str
) -> None:
    world.control("POST", "counters")
    with pytest.raises(ValueError, match="unknown feature"):
        enable_feature(ctx, connection, connection.ad_account_ids[0], feature, "ops")
    assert world.control("GET", "counters")["total"] == 0


def _cli(
    args: list[str], env: dict[str, str], answer: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metasync", *args],
        env={"PATH": os.environ.get("PATH", ""), "COLUMNS": "250", **env},
        input=answer,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_enables_a_feature_after_a_confirmation_and_shows_it(
    sync_env: dict[str, str], world: Sandbox, connection: MetaConnection
) -> None:
    tenant = connection.tenant_id
    _, without = _split(world, connection)
    command = ["reports", "enable-feature", "frequency_value", "--tenant", tenant]
    command += ["--account", f"act_{without}"]

    declined = _cli(command, sync_env, answer="n\n")
    assert declined.returncode == 1, declined.stderr
    assert "cannot be undone" in declined.stdout and "24 hours" in declined.stdout
    assert AccountFeatures.objects(tenant_id=tenant, account_id=without).count() == 0

    accepted = _cli(command, sync_env, answer="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "frequency_value enabled" in accepted.stdout and "pending" in accepted.stdout
    features = AccountFeatures.objects.get(tenant_id=tenant, account_id=without)
    assert features.status("frequency_value") == FeatureStatus.PENDING

    again = _cli([*command[:2], "comscore", *command[3:], "--yes"], sync_env)
    assert again.returncode == 0, again.stderr
    assert "cannot be undone" not in again.stdout

    shown = _cli(["reports", "access", "--tenant", tenant], sync_env)
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if without in line]
    assert any("frequency_value" in line and "pending" in line for line in lines), shown.stdout
    assert any("impression_device" in line and "not enabled" in line for line in lines)

    unknown = _cli([*command[:2], "dma", *command[3:], "--yes"], sync_env)
    assert unknown.returncode == 2 and "unknown feature" in unknown.stderr


def test_an_empty_answer_never_overrides_what_meta_says(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    """Meta's Feature Settings API said the feature is in effect: an empty answer (the
    sandbox withholds the rows behind metasync's back) is not turned into "not opted in"."""
    tenant = connection.tenant_id
    set_enabled(tenant, "placement_device", True)
    enabled, _ = _split(world, connection)
    check_tokens(ctx)
    assert _access(tenant, enabled)["placement_device"].state == ReportAccessState.AVAILABLE
    world.control("POST", "opt-in", {"account_id": enabled, "opted_in": False})
    assert perf(ctx, connection).status == RunStatus.SUCCEEDED
    access = _access(tenant, enabled)["placement_device"]
    assert access.state == ReportAccessState.AVAILABLE and access.source == "feature_settings"
