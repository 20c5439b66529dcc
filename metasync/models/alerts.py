"""``AlertState``: one problem the built-in notifier has seen, so that each is announced once
when it opens and once when it clears (:mod:`metasync.alerts`)."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import BooleanField, DateTimeField, Document, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["AlertState"]


class AlertState(Document):  # type: ignore[misc]
    key = StringField(required=True)  # condition and subject, e.g. "failing:<conn>:<account>"
    summary = StringField(required=True)
    opened_at = DateTimeField(default=utcnow)
    announced = BooleanField(default=False)  # the "problem" message went out
    cleared_at = DateTimeField()  # set when the condition no longer holds

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "alert_states",
        "indexes": [{"fields": ["key"], "unique": True}, {"fields": ["cleared_at"]}],
    }
