"""``AccountFeatures``: an ad account's Ads Insights features as Meta's Feature Settings API
states them (Meta's page "Feature Settings API", 2026-08-07).

Read on the daily token check (:mod:`metasync.sync.features`): each feature's status
(``enabled``: in effect; ``pending``: enabled, not yet in effect, up to 24 hours;
``not_enabled``), its ``insights_effective_date`` when Meta gives one, and when it was read. A
read that fails keeps the last states and records ``error``; metasync then falls back to
inferring "not opted in" from empty answers (:mod:`metasync.sync.opt_in`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, Document, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["AccountFeatures", "FeatureStatus"]


class FeatureStatus:
    ENABLED = "enabled"
    PENDING = "pending"
    NOT_ENABLED = "not_enabled"
    ALL = (ENABLED, PENDING, NOT_ENABLED)


class AccountFeatures(Document):  # type: ignore[misc]
    tenant_id = StringField(required=True)
    account_id = StringField(required=True)  # numeric, without "act_"
    # feature name -> {"status": FeatureStatus, "effective_at": datetime | None}
    features = DictField()
    read_at = DateTimeField()  # the last read that answered
    attempted_at = DateTimeField(default=utcnow)  # the last read, answered or not
    error = StringField()  # why the last read failed (Meta's message), None when it answered
    # the last enabling asked for by an operator: feature -> {"by", "at"}
    enabled_by = DictField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "account_features",
        "indexes": [{"fields": ["tenant_id", "account_id"], "unique": True}],
    }

    def status(self, feature: str) -> str | None:
        """The feature's status at the last read; None when never read."""
        entry = (self.features or {}).get(feature)
        return str(entry["status"]) if entry else None
