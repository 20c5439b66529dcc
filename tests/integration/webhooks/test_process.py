"""Processing webhook changes against the sandbox and the mirror."""

from __future__ import annotations

from metasync.models import (
    Ad,
    DailyInsight,
    MetaConnection,
    WebhookEvent,
    WebhookStatus,
)
from metasync.sync import SyncContext, run_inline
from metasync.webhooks import Change
from metasync.webhooks.process import process_change
from tests.support.sandbox import Sandbox


def record(change: Change) -> str:
    WebhookEvent(
        dedupe_key=change.dedupe_key,
        account_id=change.account_id,
        field=change.field,
        value=change.value,
    ).save()
    return change.dedupe_key


def test_issue_on_an_ad_refetches_it_and_its_recent_rows(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    run_inline(ctx, str(connection.pk))
    ad = next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] in connection.ad_account_ids
        and a["effective_status"] == "ACTIVE"
        and not a["issues_info"]
    )
    world.control("POST", "mutate", {"id": ad["id"], "action": "issues"})
    change = Change(
        ad["account_id"], 1700000000, "with_issues_ad_objects", {"id": ad["id"], "level": "AD"}
    )
    assert process_change(ctx, change, record(change)) == WebhookStatus.PROCESSED
    stored = Ad.objects.get(meta_id=ad["id"])
    assert stored.effective_status == "WITH_ISSUES" and stored.issues_info[0]["error_code"]
    assert {d.entity_id for d in DailyInsight.objects} <= {ad["id"]}
    event = WebhookEvent.objects.get(dedupe_key=change.dedupe_key)
    assert event.status == WebhookStatus.PROCESSED and event.processed_at is not None


def test_unknown_accounts_and_fields_are_recorded_not_crashed_on(
    ctx: SyncContext, connections: list[MetaConnection]
) -> None:
    stranger = Change("999999", 1, "in_process_ad_objects", {"id": "1", "level": "AD"})
    assert process_change(ctx, stranger, record(stranger)) == WebhookStatus.UNKNOWN_ACCOUNT
    account = connections[0].ad_account_ids[0]
    other = Change(account, 1, "creative_fatigue", {"ad_id": "5"})
    assert process_change(ctx, other, record(other)) == WebhookStatus.IGNORED
    vague = Change(account, 2, "in_process_ad_objects", {"level": "AD"})
    assert process_change(ctx, vague, record(vague)) == WebhookStatus.IGNORED
    assert "no active connection" in WebhookEvent.objects.get(dedupe_key=stranger.dedupe_key).detail
