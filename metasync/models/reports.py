"""Reports: which ones each tenant reads, their rows, and the daily reconciliation outcome."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    FloatField,
    LongField,
    MapField,
    StringField,
)

from metasync.models.base import BASE_META, Money, NaturalKeyed, utcnow
from metasync.models.insights import InsightMetrics

__all__ = ["Reconciliation", "ReportRow", "TenantReport"]


class TenantReport(Document):  # type: ignore[misc]
    """A report a tenant reads: a prebuilt one switched on (``definition`` empty) or its own
    custom report (``definition`` holds it, validated before it was stored)."""

    tenant_id = StringField(required=True)
    name = StringField(required=True)
    enabled = BooleanField(default=True)
    definition = DictField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "tenant_reports",
        "indexes": [{"fields": ["tenant_id", "name"], "unique": True}],
    }


class ReportRow(NaturalKeyed, InsightMetrics):
    """One row of a report. Its key holds the report, level, entity, the period (its first day;
    ``all_days`` for a whole-range report, whose dates move), every breakdown value and the
    attribution windows, so no two reports, breakdown values or windows overwrite each other."""

    numbered = True
    natural_key = (
        "tenant_id",
        "account_id",
        "report",
        "level",
        "entity_id",
        "span",
        "breakdown_key",
        "attribution_key",
    )

    tenant_id = StringField(required=True)
    account_id = StringField(required=True)
    report = StringField(required=True)
    level = StringField(required=True)
    entity_id = StringField(required=True)
    span = StringField(required=True)  # date_start, or "all_days"
    date_start = StringField(regex=r"^\d{4}-\d{2}-\d{2}$")
    date_stop = StringField(regex=r"^\d{4}-\d{2}-\d{2}$")
    time_increment = StringField()
    breakdown_key = StringField(default="")
    attribution_key = StringField(default="default")
    cpp = Money()
    # per attribution window ("1d_click", "7d_click", "28d_click", "1d_ev", "1d_view")
    conversions_by_window = MapField(Money())
    revenue_by_window = MapField(Money())
    metrics = DictField()  # the report's other fields as Meta sent them (video actions, ...)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "report_rows",
        "indexes": [
            {"fields": list(natural_key), "unique": True, "name": "natural_key"},
            {"fields": ["tenant_id", "report", "account_id", "span"]},
            {"fields": ["tenant_id", "account_id", "seq"]},  # the warehouse export's reads
        ],
    }


class Reconciliation(NaturalKeyed, Document):  # type: ignore[misc]
    """Per account and day: the sum of the ad-level daily rows against the account-level row
    (spend, impressions, clicks). ``status``: ``ok``, ``mismatch`` (a metric differs by more
    than the tolerance) or ``missing`` (rows on one side only)."""

    natural_key = ("tenant_id", "account_id", "date")

    tenant_id = StringField(required=True)
    account_id = StringField(required=True)
    date = StringField(required=True, regex=r"^\d{4}-\d{2}-\d{2}$")
    status = StringField(required=True, choices=("ok", "mismatch", "missing"))
    ads = DictField()  # metric -> sum over the ad rows (as text: exact decimals)
    account = DictField()  # metric -> the account row's value
    differences = MapField(FloatField())  # metric -> relative difference, percent
    ad_rows = LongField()
    run_id = StringField()
    checked_at = DateTimeField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "reconciliations",
        "indexes": [
            {"fields": list(natural_key), "unique": True, "name": "natural_key"},
            {"fields": ["status", "date"]},
            {"fields": ["checked_at"]},  # retention
        ],
    }
