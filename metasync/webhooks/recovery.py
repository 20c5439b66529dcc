"""Webhook changes whose task was lost: queued again, like a stalled run's subtasks
(:mod:`metasync.sync.recovery` explains the lost-message window). Webhooks use the sync layer,
never the other way round."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from metasync.models import WebhookEvent, WebhookStatus, utcnow
from metasync.sync.context import SyncContext
from metasync.webhooks.payload import Change

__all__ = ["recover_stalled_webhooks"]

log = logging.getLogger(__name__)


def recover_stalled_webhooks(
    ctx: SyncContext, send: Callable[[Change, str], object], now: datetime | None = None
) -> int:
    """Queue again every webhook change still ``queued`` ``RUN_STALL_SECONDS`` after its task
    was queued (or after the end of its throttling wait); returns how many. Each event is claimed
    by a conditional update, so two checks at once queue it once."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=ctx.settings.RUN_STALL_SECONDS)
    queued = 0
    for event in WebhookEvent.objects(status=WebhookStatus.QUEUED, queued_at__lt=cutoff):
        claimed = WebhookEvent.objects(pk=event.pk, queued_at=event.queued_at).update(
            set__queued_at=now, inc__requeued=1
        )
        if claimed:
            send(
                Change(event.account_id, event.time, event.field, dict(event.value)),
                event.dedupe_key,
            )
            queued += 1
    if queued:
        log.warning("%d webhook changes stalled and were queued again", queued)
    return queued
