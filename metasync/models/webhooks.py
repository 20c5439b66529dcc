"""``WebhookEvent``: every change Meta notified, what became of it, and why."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, Document, IntField, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["WebhookEvent", "WebhookStatus"]


class WebhookStatus:
    QUEUED = "queued"
    PROCESSED = "processed"
    IGNORED = "ignored"  # a field metasync does not act on
    UNKNOWN_ACCOUNT = "unknown_account"  # no connection mirrors this ad account
    FAILED = "failed"
    ALL = (QUEUED, PROCESSED, IGNORED, UNKNOWN_ACCOUNT, FAILED)


class WebhookEvent(Document):  # type: ignore[misc]
    dedupe_key = StringField(required=True)
    account_id = StringField(required=True)
    field = StringField(required=True)
    value = DictField()
    time = IntField()
    status = StringField(choices=WebhookStatus.ALL, default=WebhookStatus.QUEUED)
    detail = StringField()
    received_at = DateTimeField(default=utcnow)
    # when its task was (last) queued, or when a throttled task will run; a QUEUED event older
    # than RUN_STALL_SECONDS past this is queued again (metasync.sync.recovery)
    queued_at = DateTimeField(default=utcnow)
    requeued = IntField(default=0)
    processed_at = DateTimeField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "webhook_events",
        "indexes": [
            {"fields": ["dedupe_key"], "unique": True},
            {"fields": ["status", "-received_at"]},
            {"fields": ["status", "queued_at"]},
            {"fields": ["account_id", "-received_at"]},  # an account's page
        ],
    }
