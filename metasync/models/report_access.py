"""``ReportAccess``: whether Meta answers an account's opt-in report (2026-08-03).

Meta's ``impression_device`` (and every combination with it), audience-time-zone hourly and
``frequency_value`` breakdowns "may return no results for ad accounts that have not opted in".
An empty answer for an account that delivered over the same days is recorded here as
``not_opted_in`` (never as zero rows); the report is then asked again only every
``META_OPT_IN_RECHECK_HOURS`` so an opt-in is noticed, and the next answer with rows makes it
``available``.

Since Meta's Feature Settings API (page of that name, 2026-08-07) states each account's
features, the daily token check records the state from it (``source="feature_settings"``,
with the feature and its status, pending included) and the inference above is only the
fallback for accounts whose features cannot be read.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, Document, IntField, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["ReportAccess", "ReportAccessState"]


class ReportAccessState:
    AVAILABLE = "available"
    NOT_OPTED_IN = "not_opted_in"
    ALL = (AVAILABLE, NOT_OPTED_IN)


class ReportAccess(Document):  # type: ignore[misc]
    tenant_id = StringField(required=True)
    account_id = StringField(required=True)  # numeric, without "act_"
    report = StringField(required=True)
    state = StringField(choices=ReportAccessState.ALL, required=True)
    since = DateTimeField(default=utcnow)  # when the current state was first seen
    checked_at = DateTimeField(default=utcnow)  # the last read that decided it
    # the evidence for not_opted_in: the days asked for and the impressions the account had
    checked_since = StringField()
    checked_until = StringField()
    delivered_impressions = IntField()
    # what decided the state: "feature_settings" (Meta's Feature Settings API said so, with
    # the feature and its status) or "answer" (inferred from an answer's rows, the fallback)
    source = StringField()
    feature = StringField()
    feature_status = StringField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "report_access",
        "indexes": [
            {"fields": ["tenant_id", "account_id", "report"], "unique": True},
            {"fields": ["state", "tenant_id", "report"]},  # /metrics, health, the planner
        ],
    }
