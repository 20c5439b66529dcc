"""The rest of the account in-process against the sandbox: libraries, activities, delivery
signals, the change log, deleted objects read by id, and custom conversions counted."""

from __future__ import annotations

import time

import pytest

from metasync.models import (
    Ad,
    AdActivity,
    AdImage,
    AdSet,
    AdVideo,
    Campaign,
    ChangeRecord,
    CustomAudience,
    CustomConversion,
    DailyInsight,
    MetaConnection,
    RunStatus,
    SyncRun,
)
from metasync.sync import SyncContext, run_inline
from metasync.sync.conversions import (
    ConversionChoiceError,
    custom_action_type,
    use_custom_conversion,
)
from tests.integration.sync.conftest import tenant_of_account
from tests.support.sandbox import Sandbox
from tests.support.truth import entity_mismatches, insight_mismatches


def entities(ctx: SyncContext, connection: MetaConnection, **kwargs: object) -> SyncRun:
    started = run_inline(ctx, str(connection.pk), **kwargs)  # type: ignore[arg-type]
    return SyncRun.objects.get(pk=started.run_id)


def performance(ctx: SyncContext, connection: MetaConnection) -> SyncRun:
    started = run_inline(
        ctx, str(connection.pk), kind="performance", sleep=lambda s: time.sleep(min(s, 0.05))
    )  # type: ignore[arg-type]
    return SyncRun.objects.get(pk=started.run_id)


def test_libraries_activities_and_signals_equal_the_ground_truth(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    runs = [entities(ctx, c) for c in connections]
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * len(runs)
    truth = world.truth()
    assert entity_mismatches(truth, tenant_of_account(connections)) == []
    for model, key in (
        (AdImage, "adimages"),
        (AdVideo, "advideos"),
        (CustomConversion, "customconversions"),
        (CustomAudience, "customaudiences"),
    ):
        assert model.objects.count() == len(truth[key]) > 0, key
    assert AdActivity.objects.count() == len(truth["activities"]) > 0
    assert AdImage.objects(status="DELETED").count() > 0, "Meta lists deleted images: kept"
    # creatives link to their images and videos by hash and id
    for image in AdImage.objects(creative_ids__ne=[]):
        assert all(
            c.get("image_hash") == image.hash
            for c in truth["adcreatives"]
            if c["id"] in image.creative_ids
        )
    learning = AdSet.objects(learning_stage_info__ne={})
    assert learning and all(a.effective_status == "ACTIVE" for a in learning)
    assert Campaign.objects(recommendations__ne=[]).count() > 0
    assert CustomAudience.objects.first().approximate_count_upper_bound is not None


def test_activities_are_read_from_the_last_sync_and_changes_are_logged(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    first = connections[0]
    entities(ctx, first)
    before = AdActivity.objects.count()
    truth = world.truth()
    mine = set(first.ad_account_ids)
    campaign = next(
        c for c in truth["campaigns"] if c["account_id"] in mine and c["status"] == "ACTIVE"
    )
    adset = next(a for a in truth["adsets"] if a["account_id"] in mine and a.get("daily_budget"))
    new_budget = str(int(adset["daily_budget"]) + 1000)
    world.control("POST", "mutate", {"id": campaign["id"], "action": "pause"})
    world.control(
        "POST",
        "mutate",
        {"id": adset["id"], "action": "update", "fields": {"daily_budget": new_budget}},
    )
    world.control("POST", "counters")
    run = entities(ctx, first)
    assert run.status == RunStatus.SUCCEEDED and run.full == 0
    assert run.entities.get("activities") == 2, "only the events since the last sync are read"
    assert AdActivity.objects.count() == before + 2
    paused = AdActivity.objects.get(
        object_id=campaign["id"], event_type="update_campaign_run_status"
    )
    assert (paused.old_value, paused.new_value) == ("Active", "Inactive")
    assert paused.actor_name.startswith("Sandbox User"), "who paused this campaign"
    status = ChangeRecord.objects.get(object_id=campaign["id"], field="status")
    assert (status.old_value, status.new_value) == ("ACTIVE", "PAUSED")
    budget = ChangeRecord.objects.get(object_id=adset["id"], field="daily_budget")
    currency = next(
        a["currency"] for a in truth["accounts"] if a["account_id"] == adset["account_id"]
    )
    assert budget.new_value == f"{int(new_budget) / (1 if currency == 'JPY' else 100):.2f}"
    assert budget.run_id == str(run.pk)
    assert ChangeRecord.objects.count() == 2, "a first sighting or an unchanged value logs nothing"
    entities(ctx, first)  # read again: nothing new, nothing twice
    assert ChangeRecord.objects.count() == 2
    assert AdActivity.objects.count() == before + 2


@pytest.mark.usefixtures("fast_jobs")
def test_a_deleted_object_meta_stops_listing_is_read_by_id_once_and_keeps_its_rows(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    first = connections[0]
    entities(ctx, first)
    assert performance(ctx, first).status == RunStatus.SUCCEEDED
    mine = set(first.ad_account_ids)
    with_rows = {d.entity_id for d in DailyInsight.objects(level="ad", tenant_id=first.tenant_id)}
    ad = next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] in mine and a["status"] == "ACTIVE" and a["id"] in with_rows
    )
    rows = DailyInsight.objects(level="ad", entity_id=ad["id"]).count()
    world.control("POST", "mutate", {"id": ad["id"], "action": "unlist"})
    world.control("POST", "counters")
    full = entities(ctx, first, full=True)
    assert full.status == RunStatus.SUCCEEDED
    stored = Ad.objects.get(meta_id=ad["id"])
    assert stored.deleted_at is not None and stored.effective_status == "DELETED"
    assert full.tombstoned.get("deleted_read_by_id_ads") == 1
    # two batches: the run's account details, then the vanished ad by id (no multi-id read)
    paths = world.control("GET", "counters")["by_path"]
    assert paths.get("POST /") == 2 and "GET /" not in paths
    assert DailyInsight.objects(level="ad", entity_id=ad["id"]).count() == rows
    after = world.truth()
    assert ad["id"] in after["unlisted"]
    for key in ("accounts", "campaigns", "adsets", "ads", "adcreatives"):
        after[key] = [o for o in after[key] if o["account_id"] in mine]
    assert entity_mismatches(after, {a: first.tenant_id for a in mine}) == []
    world.control("POST", "counters")
    again = entities(ctx, first, full=True)
    assert again.status == RunStatus.SUCCEEDED
    assert world.control("GET", "counters")["by_path"]["POST /"] == 1, "account details only"
    assert again.tombstoned.get("deleted_read_by_id_ads") is None, "read by id only once"


@pytest.mark.usefixtures("fast_jobs")
def test_a_tenant_counts_its_custom_conversion(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    first = connections[0]
    entities(ctx, first)
    with pytest.raises(ConversionChoiceError, match="no custom conversion '999'"):
        use_custom_conversion(first.tenant_id, "999")
    truth = world.truth()
    counted = {}
    account = first.ad_account_ids[0]
    purchase = next(
        c
        for c in truth["customconversions"]
        if c["account_id"] == account and c["custom_event_type"] == "PURCHASE"
    )
    assert use_custom_conversion(first.tenant_id, purchase["id"]) == [
        custom_action_type(purchase["id"])
    ]
    for other in first.ad_account_ids:  # the tenant counts one action type on all its accounts
        counted[other] = custom_action_type(purchase["id"])
    assert performance(ctx, first).status == RunStatus.SUCCEEDED
    mapping = {a: first.tenant_id for a in first.ad_account_ids}
    assert insight_mismatches(truth, mapping, counted=counted) == []
    rows = DailyInsight.objects(tenant_id=first.tenant_id, account_id=account, level="account")
    assert sum(r.conversions for r in rows) > 0, "the custom conversion is counted"


@pytest.fixture
def fast_jobs(world: Sandbox) -> None:
    world.control("POST", "faults", {"job_seconds": 0.05})
