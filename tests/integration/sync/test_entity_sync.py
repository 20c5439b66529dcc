"""Entity sync in-process (the same functions the Celery tasks call) against the sandbox."""

from __future__ import annotations

import pytest

from metasync.graph import TokenError
from metasync.models import (
    Ad,
    AdCreative,
    AdSet,
    Campaign,
    ConnectionStatus,
    MetaConnection,
    RunStatus,
    SyncRun,
)
from metasync.sync import SyncContext, execute_subtask, run_inline, start_entity_sync
from metasync.sync.scheduling import claim_schedule_slot
from tests.integration.sync.conftest import tenant_of_account
from tests.support.sandbox import Sandbox
from tests.support.truth import entity_mismatches


def run_all(ctx: SyncContext, connections: list[MetaConnection], **kwargs: object) -> list[SyncRun]:
    started = [run_inline(ctx, str(c.pk), **kwargs) for c in connections]  # type: ignore[arg-type]
    return [SyncRun.objects.get(pk=s.run_id) for s in started]


def test_full_sync_equals_the_ground_truth(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    runs = run_all(ctx, connections)
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * len(connections)
    truth = world.truth()
    assert entity_mismatches(truth, tenant_of_account(connections)) == []
    statuses = {a.effective_status for a in Ad.objects}
    assert {"ARCHIVED", "DELETED"} & statuses, "archived and deleted objects are mirrored too"
    run = runs[0]
    accounts = len(connections[0].ad_account_ids)
    assert run.full == 1 and run.entities["accounts"] == accounts
    # per account its details (one batch item each: multi-id reads are closed to new apps),
    # the campaign tree and creatives (4), the four libraries and the activity log
    assert run.api_calls == accounts + 9 * accounts
    assert run.duration_ms is not None and run.finished_at is not None
    assert MetaConnection.objects.get(pk=connections[0].pk).last_full_sync_at == run.started_at


def test_no_change_incremental_costs_one_call_per_edge(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    run_all(ctx, connections)
    world.control("POST", "counters")
    again = run_all(ctx, connections)
    accounts = sum(len(c.ad_account_ids) for c in connections)
    assert all(r.full == 0 and r.status == RunStatus.SUCCEEDED for r in again)
    assert sum(r.api_calls for r in again) == accounts + 8 * accounts  # details + 8 edges
    assert world.control("GET", "counters")["graph_calls"] == accounts + 8 * accounts
    tree = ("campaigns", "adsets", "ads", "adcreatives", "activities")  # nothing changed
    assert all(sum(v for k, v in r.entities.items() if k in tree) == 0 for r in again)
    assert all(r.entities.get("adimages", 0) > 0 for r in again), "libraries are listed whole"


def test_changes_show_up_and_vanished_objects_become_tombstones(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    run_all(ctx, connections)
    truth = world.truth()
    mine = set(connections[0].ad_account_ids)
    campaign = next(
        c
        for c in truth["campaigns"]
        if c["account_id"] in mine and c["effective_status"] == "ACTIVE"
    )
    renamed = next(
        a for a in truth["adsets"] if a["account_id"] in mine and a["campaign_id"] != campaign["id"]
    )
    doomed = next(
        a
        for a in truth["ads"]
        if a["account_id"] in mine
        and a["adset_id"] != renamed["id"]
        and a["campaign_id"] != campaign["id"]
    )
    world.control(
        "POST",
        "mutate",
        {"id": renamed["id"], "action": "update", "fields": {"name": "Renamed in Ads Manager"}},
    )
    world.control("POST", "mutate", {"id": campaign["id"], "action": "pause"})
    world.control("POST", "mutate", {"id": doomed["id"], "action": "purge"})

    incremental = run_all(ctx, connections[:1])[0]
    assert incremental.full == 0 and incremental.status == RunStatus.SUCCEEDED
    assert AdSet.objects.get(meta_id=renamed["id"]).name == "Renamed in Ads Manager"
    assert Campaign.objects.get(meta_id=campaign["id"]).effective_status == "PAUSED"
    assert Ad.objects.get(meta_id=doomed["id"]).deleted_at is None  # incremental cannot know

    full = run_all(ctx, connections[:1], full=True)[0]
    assert full.full == 1 and full.status == RunStatus.SUCCEEDED
    gone = Ad.objects.get(meta_id=doomed["id"])
    assert gone.deleted_at is not None and gone.deleted_at >= full.started_at
    assert full.tombstoned.get("ads") == 1
    children = AdSet.objects(campaign_id=campaign["id"], status="ACTIVE")
    assert children and all(c.effective_status == "CAMPAIGN_PAUSED" for c in children)
    after = world.truth()
    after["ads"] = [a for a in after["ads"] if a["account_id"] in mine]
    for key in ("accounts", "campaigns", "adsets", "adcreatives"):
        after[key] = [o for o in after[key] if o["account_id"] in mine]
    problems = entity_mismatches(after, {a: connections[0].tenant_id for a in mine})
    assert problems == []


def test_token_expiring_mid_run_marks_the_connection_and_others_carry_on(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    first, second = connections
    expired = {"done": False}

    def expire_after_first_subtask(run: SyncRun) -> None:
        if not expired["done"] and run.subtasks_done:
            world.control("POST", "tokens/expire", {"user_id": first.meta_user_id})
            expired["done"] = True

    start = run_inline(ctx, str(first.pk), on_progress=expire_after_first_subtask)
    run = SyncRun.objects.get(pk=start.run_id)
    assert run.status == RunStatus.FAILED
    assert any(e["type"] == "TokenError" and e["subcode"] == 463 for e in run.errors)
    stored = MetaConnection.objects.get(pk=first.pk)
    assert stored.status == ConnectionStatus.EXPIRED and stored.status_subcode == 463
    assert "token expired" in stored.status_reason
    assert run.pending == 0 and run.finished_at is not None
    other = SyncRun.objects.get(pk=run_inline(ctx, str(second.pk)).run_id)
    assert other.status == RunStatus.SUCCEEDED
    assert start_entity_sync(ctx, str(first.pk)).status == "inactive"
    assert ctx.sync_lock(str(first.pk)).holder() is None  # the failed run released its lock


def test_a_busy_lock_skips_and_records_the_run(
    ctx: SyncContext, connections: list[MetaConnection]
) -> None:
    connection_id = str(connections[0].pk)
    lock = ctx.sync_lock(connection_id)
    assert lock.acquire("someone-else")
    skipped = start_entity_sync(ctx, connection_id)
    assert skipped.status == "skipped" and not skipped.subtasks
    run = SyncRun.objects.get(pk=skipped.run_id)
    assert run.status == RunStatus.SKIPPED and "someone-else" in run.errors[0]["message"]
    assert lock.release("someone-else")
    assert start_entity_sync(ctx, connection_id).status == "started"


def test_rate_limited_subtask_asks_for_a_countdown_instead_of_sleeping(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    start = start_entity_sync(ctx, str(connections[0].pk))
    world.control("PUT", "budgets", {"account": 1, "window_seconds": 600})
    sub = start.subtasks[0]
    execute_subtask(ctx, sub)  # spends the account's budget of 1
    throttled = execute_subtask(ctx, start.subtasks[1])
    assert throttled.status == "retry"
    assert 500 < throttled.countdown <= 600
    run = SyncRun.objects.get(pk=start.run_id)
    assert run.status == RunStatus.RUNNING and run.throttled_seconds > 500
    gave_up = execute_subtask(ctx, start.subtasks[1], may_wait=False)
    assert gave_up.status == "failed"


def test_permission_errors_are_recorded_and_other_accounts_finish(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    first, second = connections
    first.ad_account_ids = [*first.ad_account_ids, second.ad_account_ids[0]]
    first.save()
    run = SyncRun.objects.get(pk=run_inline(ctx, str(first.pk)).run_id)
    assert run.status == RunStatus.PARTIAL
    denied = [e for e in run.errors if e["type"] == "PermissionDeniedError"]
    assert {e["account_id"] for e in denied} == {second.ad_account_ids[0]}
    assert [e["edge"] for e in denied] == ["account"]  # no edge of it is even tried
    assert Campaign.objects(account_id=first.ad_account_ids[0]).count() > 0
    readable = len(first.ad_account_ids) - 1
    # one batch of account reads (Meta counts each item) and the edges
    assert run.api_calls == len(first.ad_account_ids) + 9 * readable
    assert world.control("GET", "counters")["by_path"]["POST /"] == 1, "one batch request"
    assert MetaConnection.objects.get(pk=first.pk).status == ConnectionStatus.ACTIVE


def test_batch_items_that_come_back_null_are_sent_again(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    first, second = connections
    first.ad_account_ids = [*first.ad_account_ids, second.ad_account_ids[0]]
    first.save()
    world.control("POST", "faults", {"batch_null_rate": 0.5, "seed": 2})
    run = SyncRun.objects.get(pk=run_inline(ctx, str(first.pk)).run_id)
    assert world.control("GET", "counters")["by_path"]["POST /"] >= 2, "a second round"
    assert run.status == RunStatus.PARTIAL and run.entities["accounts"] == 2
    denied = {e["account_id"] for e in run.errors if e["type"] == "PermissionDeniedError"}
    assert denied == {second.ad_account_ids[0]}


def test_a_subtask_run_twice_counts_once(
    ctx: SyncContext, connections: list[MetaConnection]
) -> None:
    start = start_entity_sync(ctx, str(connections[0].pk))
    sub = next(s for s in start.subtasks if s.edge == "ads")
    execute_subtask(ctx, sub)
    execute_subtask(ctx, sub)  # a redelivery after a worker died
    run = SyncRun.objects.get(pk=start.run_id)
    expected = Ad.objects(account_id=sub.account_id).count()
    assert run.entities["ads"] == expected
    assert run.subtasks_done == 1
    assert run.pending == len(start.subtasks) - 1
    assert AdCreative.objects(account_id=sub.account_id).count() == expected


def test_schedule_slots_are_claimed_once(ctx: SyncContext) -> None:
    assert claim_schedule_slot(ctx.redis, ctx.keys, "entities", 240, now=1_000_000)
    assert not claim_schedule_slot(ctx.redis, ctx.keys, "entities", 240, now=1_000_100)
    assert claim_schedule_slot(ctx.redis, ctx.keys, "entities", 240, now=1_000_000 + 240 * 60)
    assert claim_schedule_slot(ctx.redis, ctx.keys, "performance", 240, now=1_000_000)


def test_token_refresh_before_expiry(ctx: SyncContext, connections: list[MetaConnection]) -> None:
    from datetime import timedelta

    from metasync.models import utcnow
    from metasync.sync.connections import maybe_refresh_token

    connection = connections[0]
    old = connection.access_token(ctx.cipher)
    connection.token_expires_at = utcnow() + timedelta(minutes=4)
    connection.save()
    assert maybe_refresh_token(ctx, connection)
    fresh = MetaConnection.objects.get(pk=connection.pk)
    assert fresh.access_token(ctx.cipher) != old
    assert fresh.token_expires_at > utcnow() + timedelta(days=50)
    assert not maybe_refresh_token(ctx, fresh)


def test_unknown_connection_and_bad_token(ctx: SyncContext, world: Sandbox) -> None:
    from metasync.sync.connections import add_connection

    assert start_entity_sync(ctx, "0" * 24).status == "missing"
    with pytest.raises(TokenError):
        add_connection(ctx, "tenant-x", "sbx-not-a-real-token")


def test_unexpected_data_is_recorded_and_never_leaves_the_run_open(
    ctx: SyncContext, connections: list[MetaConnection], monkeypatch: pytest.MonkeyPatch
) -> None:
    from metasync.sync import pipeline

    def hostile(*_: object, **__: object) -> None:
        raise KeyError("effective_status")  # what a malformed Graph object could cause

    start = start_entity_sync(ctx, str(connections[0].pk))
    monkeypatch.setattr(pipeline, "read_edge_chunk", hostile)
    for sub in start.subtasks:
        assert execute_subtask(ctx, sub).status == "failed"
    run = SyncRun.objects.get(pk=start.run_id)
    assert run.status == RunStatus.FAILED and run.pending == 0
    assert {e["type"] for e in run.errors} == {"KeyError"}
    assert ctx.sync_lock(str(connections[0].pk)).holder() is None


def test_a_redelivered_start_owns_the_lock_it_took(
    ctx: SyncContext, connections: list[MetaConnection]
) -> None:
    """A start whose worker died after taking the lock (before saving its run) runs when its
    message comes back, instead of being refused by its own lock."""
    import hashlib

    from bson import ObjectId

    connection_id = str(connections[0].pk)
    token = str(ObjectId(hashlib.sha256(b"task-123").digest()[:12]))
    assert ctx.sync_lock(connection_id).acquire(token)  # the dead attempt's lock
    start = start_entity_sync(ctx, connection_id, request_id="task-123")
    assert start.status == "started" and start.run_id == token
    assert start_entity_sync(ctx, connection_id, request_id="task-999").status == "skipped"
