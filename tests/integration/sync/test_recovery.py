"""Stalled runs and webhook changes: a task whose message was lost is queued again, from the
run's outbox or the webhook event."""

from __future__ import annotations

from datetime import datetime, timedelta

from metasync.models import (
    MetaConnection,
    RunStatus,
    SyncRun,
    WebhookEvent,
    WebhookStatus,
    utcnow,
)
from metasync.sync import Subtask, SyncContext, execute_subtask, run_inline, start_sync
from metasync.sync.account import runs as run_book
from metasync.sync.recovery import recover_stalled_runs
from metasync.webhooks import Change
from metasync.webhooks.recovery import recover_stalled_webhooks
from tests.integration.sync.conftest import tenant_of_account
from tests.support.sandbox import Sandbox
from tests.support.truth import entity_mismatches


def later(ctx: SyncContext, extra: float = 1.0) -> datetime:
    """A moment ``RUN_STALL_SECONDS`` (plus ``extra``) from now."""
    return utcnow() + timedelta(seconds=ctx.settings.RUN_STALL_SECONDS + extra)


def test_a_lost_subtask_is_queued_again_and_the_run_completes(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    start = start_sync(ctx, str(connections[0].pk))
    *delivered, lost = start.subtasks
    for sub in delivered:
        execute_subtask(ctx, sub)
    assert recover_stalled_runs(ctx, print, now=utcnow()) == [], "not stalled yet"

    sent: list[Subtask] = []
    recovered = recover_stalled_runs(ctx, sent.append, now=later(ctx))
    assert sent == [lost]
    assert [(r.run_id, r.queued, r.unrecoverable) for r in recovered] == [(start.run_id, 1, [])]
    assert recover_stalled_runs(ctx, sent.append, now=later(ctx)) == [], "claimed once"

    execute_subtask(ctx, sent[0])
    run = SyncRun.objects.get(pk=start.run_id)
    assert run.status == RunStatus.SUCCEEDED and run.recovered == 1
    for other in connections[1:]:
        run_inline(ctx, str(other.pk))
    assert entity_mismatches(world.truth(), tenant_of_account(connections)) == []


def test_a_run_waiting_for_a_countdown_is_not_stalled(
    ctx: SyncContext, connections: list[MetaConnection]
) -> None:
    start = start_sync(ctx, str(connections[0].pk))
    run_book.waiting(start.run_id, ctx.settings.RUN_STALL_SECONDS + 600)  # a throttled subtask
    sent: list[Subtask] = []
    assert recover_stalled_runs(ctx, sent.append, now=later(ctx)) == []
    assert sent == []
    past_the_wait = later(ctx, ctx.settings.RUN_STALL_SECONDS + 601)
    recover_stalled_runs(ctx, sent.append, now=past_the_wait)
    assert sorted(s.key for s in sent) == sorted(s.key for s in start.subtasks)


def test_what_cannot_be_queued_again_ends_the_run_with_a_named_error(
    ctx: SyncContext, connections: list[MetaConnection]
) -> None:
    first, second = connections[:2]
    start = start_sync(ctx, str(first.pk))
    todo = list(start.subtasks)
    while todo:
        todo += execute_subtask(ctx, todo.pop()).follow_ups
    SyncRun.objects(pk=start.run_id).update(  # a key whose arguments were never recorded
        **{f"set__inflight__{run_book.slot('old-key')}": {"key": "old-key"}},
        inc__pending=1,
        inc__in_flight=1,
        set__status=RunStatus.RUNNING,
    )
    # and a run whose start died after saving it, before planning any subtask
    orphan = SyncRun(connection_id=str(second.pk), tenant_id=second.tenant_id, kind="entities")
    orphan.save()
    ctx.sync_lock(str(second.pk), "entities").acquire(str(orphan.pk))

    recover_stalled_runs(ctx, print, now=later(ctx))
    run = SyncRun.objects.get(pk=start.run_id)
    assert run.status == RunStatus.PARTIAL
    assert run.errors[-1]["type"] == "SubtaskLost" and "old-key" in run.errors[-1]["message"]
    orphan.reload()
    assert orphan.status == RunStatus.FAILED and orphan.errors[-1]["type"] == "StartLost"
    assert ctx.sync_lock(str(second.pk), "entities").holder() is None


def test_a_webhook_change_whose_task_was_lost_is_queued_again(ctx: SyncContext) -> None:
    lost = Change("900000210000", 1700000000, "with_issues_ad_objects", {"id": "1", "level": "AD"})
    done = Change("900000210000", 1700000001, "with_issues_ad_objects", {"id": "2", "level": "AD"})
    WebhookEvent(dedupe_key=lost.dedupe_key, **lost.as_kwargs()).save()
    WebhookEvent(
        dedupe_key=done.dedupe_key, status=WebhookStatus.PROCESSED, **done.as_kwargs()
    ).save()
    sent: list[tuple[Change, str]] = []

    def send(change: Change, key: str) -> None:
        sent.append((change, key))

    assert recover_stalled_webhooks(ctx, send, now=utcnow()) == 0, "not stalled yet"
    assert recover_stalled_webhooks(ctx, send, now=later(ctx)) == 1
    assert sent == [(lost, lost.dedupe_key)]
    assert recover_stalled_webhooks(ctx, send, now=later(ctx)) == 0, "claimed once"
    assert WebhookEvent.objects.get(dedupe_key=lost.dedupe_key).requeued == 1
