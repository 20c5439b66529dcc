"""``AppliedUpgrade``: the data upgrades (:mod:`metasync.upgrades`) a mirror has had, so each
runs once rather than at every start."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, Document, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["AppliedUpgrade"]


class AppliedUpgrade(Document):  # type: ignore[misc]
    name = StringField(required=True)
    applied_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "applied_upgrades",
        "indexes": [{"fields": ["name"], "unique": True}],
    }
