"""Meta's 2025-2026 changes that silently empty a sync, synced in-process against the sandbox's
default app (one created after 2026-11-04): no multi-id reads, opt-in breakdowns recorded as
"not opted in" (never as zero rows) and asked again at a low rate, and report rows that keep
their period on explicit-range runs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from metasync.health.compute import tenant_health
from metasync.models import (
    Ad,
    AdCreative,
    AdSet,
    Campaign,
    DailyInsight,
    MetaConnection,
    ReportAccess,
    ReportAccessState,
    ReportRow,
    RunStatus,
    utcnow,
)
from metasync.reports.store import set_enabled
from metasync.sync import Period, SyncContext, run_inline
from tests.support.inline import perf
from tests.support.sandbox import Sandbox

WITHHELD = ("hourly_audience", "placement_device")


def test_a_new_app_syncs_end_to_end_without_a_multi_id_read(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    """Graph API v27.0 launch post: apps created from 2026-11-04 cannot use ``GET /?ids=``.
    Before, every run read its accounts that way and failed for such an app."""
    world.control("POST", "counters")  # after the fixture's first entity run
    entities = run_inline(ctx, str(connection.pk), full=True)
    assert entities.status == "started"
    run = perf(ctx, connection)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    paths = world.control("GET", "counters")["by_path"]
    assert paths.get("GET /", 0) == 0, paths
    assert paths.get("POST /", 0) >= 2  # each run's account read: one batch of single reads
    assert world.control("GET", "counters")["by_error_code"].get("100", 0) == 0
    assert Ad.objects(tenant_id=connection.tenant_id).count() == 16  # 2 accounts x 8 ads
    assert DailyInsight.objects(tenant_id=connection.tenant_id, level="ad").count() > 0


def test_the_v23_to_v25_object_fields_are_mirrored(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    """Marketing API v22-v25 changelogs: Advantage+ states, budget sharing, soft opt-out,
    regulated categories, Advantage+ audience, creative enhancements, the v22 Instagram names,
    and why an ad was disapproved."""
    ad = next(a for a in world.truth()["ads"] if a["effective_status"] == "ACTIVE")
    world.control("POST", "mutate", {"id": ad["id"], "action": "disapprove"})
    run_inline(ctx, str(connection.pk), full=True)  # a review moves no updated_time
    truth = world.truth()
    tenant = connection.tenant_id
    campaigns = {c.meta_id: c for c in Campaign.objects(tenant_id=tenant)}
    adsets = {a.meta_id: a for a in AdSet.objects(tenant_id=tenant)}
    ads = {a.meta_id: a for a in Ad.objects(tenant_id=tenant)}
    creatives = {c.meta_id: c for c in AdCreative.objects(tenant_id=tenant)}
    assert campaigns and adsets and ads and creatives
    for raw in truth["campaigns"]:
        if raw["id"] in campaigns:
            assert campaigns[raw["id"]].advantage_state_info == raw["advantage_state_info"]
    for raw in truth["adsets"]:
        if raw["id"] in adsets:
            mirrored = adsets[raw["id"]]
            automation = raw["targeting"]["targeting_automation"]
            assert mirrored.targeting_automation == automation
            assert mirrored.placement_soft_opt_out == raw.get("placement_soft_opt_out", {})
            assert mirrored.regional_regulated_categories == raw["regional_regulated_categories"]
    disapproved = [a for a in truth["ads"] if a["id"] in ads and a.get("ad_review_feedback")]
    assert disapproved, "the world has a disapproved ad"
    for raw in disapproved:
        assert ads[raw["id"]].ad_review_feedback == raw["ad_review_feedback"]
    for raw in truth["adcreatives"]:
        if raw["id"] in creatives:
            mirrored = creatives[raw["id"]]
            assert mirrored.instagram_user_id == raw["instagram_user_id"]
            assert mirrored.effective_instagram_media_id == raw["effective_instagram_media_id"]
            assert mirrored.degrees_of_freedom_spec == raw["degrees_of_freedom_spec"]


def test_an_account_without_the_opt_in_is_reported_not_opted_in_never_as_zero_rows(
    ctx: SyncContext, world: Sandbox, connection: MetaConnection
) -> None:
    """Meta, 2026-08-03: the device, audience-hour and frequency breakdowns "may return no
    results for ad accounts that have not opted in". Before, such an account's reports were
    simply empty, like an account that delivered nothing."""
    tenant = connection.tenant_id
    for name in (*WITHHELD, "placement"):
        set_enabled(tenant, name, True)
    assert perf(ctx, connection).status == RunStatus.SUCCEEDED
    opted = {a.removeprefix("act_") for a in world.user()["opted_in_account_ids"]}
    withheld = [a for a in connection.ad_account_ids if a not in opted]
    assert opted and withheld

    def states(account: str) -> dict[str, str]:
        return {
            a.report: a.state for a in ReportAccess.objects(tenant_id=tenant, account_id=account)
        }

    def rows(account: str, report: str) -> int:
        return int(ReportRow.objects(tenant_id=tenant, account_id=account, report=report).count())

    for account in withheld:
        assert states(account) == dict.fromkeys(WITHHELD, ReportAccessState.NOT_OPTED_IN)
        assert all(rows(account, name) == 0 for name in WITHHELD)
        assert rows(account, "placement") > 0, "platform x position needs no opt-in"
        access = ReportAccess.objects.get(tenant_id=tenant, account_id=account, report=WITHHELD[1])
        assert access.delivered_impressions > 0 and access.checked_since
    for account in opted:
        assert states(account) == dict.fromkeys(WITHHELD, ReportAccessState.AVAILABLE)
        assert all(rows(account, name) > 0 for name in WITHHELD)
    health = {h.account_id: h.not_opted_in for h in tenant_health([tenant])}
    assert health == {a: list(WITHHELD) if a in withheld else [] for a in connection.ad_account_ids}

    # asked again only every META_OPT_IN_RECHECK_HOURS: the next run does not read them
    before = {a.report: a.checked_at for a in ReportAccess.objects(account_id=withheld[0])}
    assert perf(ctx, connection).status == RunStatus.SUCCEEDED
    after = {a.report: a.checked_at for a in ReportAccess.objects(account_id=withheld[0])}
    assert after == before

    # hourly_audience reads a day a request: once a run finds it withheld from an account, it
    # skips that account's other days (the opted-in account reads all 7)
    for name in ("placement", "placement_device"):
        set_enabled(tenant, name, False)
    ReportAccess.objects(account_id=withheld[0]).update(
        set__checked_at=utcnow() - timedelta(hours=25)
    )
    world.control("POST", "counters")
    assert perf(ctx, connection, period=Period(preset="last_7d")).status == RunStatus.SUCCEEDED
    calls = world.control("GET", "counters")["by_account"]
    assert calls[withheld[0]] <= calls[next(iter(opted))] - 4, calls
    for name in ("placement", "placement_device"):
        set_enabled(tenant, name, True)

    # the advertiser opts in; a day later metasync notices
    world.control("POST", "opt-in", {"account_id": withheld[0], "opted_in": True})
    ReportAccess.objects(account_id=withheld[0]).update(
        set__checked_at=utcnow() - timedelta(hours=25)
    )
    assert perf(ctx, connection).status == RunStatus.SUCCEEDED
    assert states(withheld[0]) == dict.fromkeys(WITHHELD, ReportAccessState.AVAILABLE)
    assert all(rows(withheld[0], name) > 0 for name in WITHHELD)


@pytest.mark.parametrize("grain", ["reach_weekly", "reach_monthly", "reach_lifetime"])
def test_an_explicit_two_day_run_keeps_each_report_row_whole(
    ctx: SyncContext, connection: MetaConnection, grain: str
) -> None:
    """Before: an explicit run read weekly, monthly and whole-range reports over just its days
    and overwrote the whole period's row (a lifetime reach became two days' reach)."""
    tenant = connection.tenant_id
    set_enabled(tenant, grain, True)
    assert perf(ctx, connection).status == RunStatus.SUCCEEDED
    account = connection.ad_account_ids[0]

    def periods() -> dict[tuple[str, str], tuple[str, str, int]]:
        return {
            (r.entity_id, r.span): (r.date_start, r.date_stop, r.reach)
            for r in ReportRow.objects(tenant_id=tenant, account_id=account, report=grain)
        }

    whole = periods()
    assert whole
    today = date.fromisoformat(max(stop for _, stop, _ in whole.values()))
    # two days before today: inside the newest week or month, never the whole of it
    explicit = Period(since=today - timedelta(days=2), until=today - timedelta(days=1))
    assert perf(ctx, connection, period=explicit).status == RunStatus.SUCCEEDED
    assert periods() == whole
