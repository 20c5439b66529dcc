"""Fivetran's derived tables (``basic_ad`` and its action tables, ``demographics_*``) for a
batch of mirror rows the export reads: what each batch becomes, apart from how the run reads,
loads and commits it (:mod:`metasync.export.run`).

- ``basic_ad`` and its actions come from ad-level daily rows; their attribution windows from
  the ``actions_by_device`` report of the same ads and days, where the tenant reads it (summed
  over devices). A report batch that moves those windows sends its ads' days again.
- ``demographics_country``/``_region`` are rebuilt for each ad-level day a report batch holds,
  from every row of that report, account and day (a day's rows are one set).

Each function answers ``(table, rows, parents)`` triples in load order; parents are the keys a
child table's rows replace as a set (:meth:`~metasync.export.warehouse.Warehouse.load`).
Reads walk the (tenant, report, account, span) index with equalities only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from metasync.export.currency import Converter
from metasync.export.fivetran import action_rows, basic_ad_row, demographics_rows, is_basic_ad_row
from metasync.export.numbers import as_date
from metasync.export.values import Unconvertible
from metasync.models import Ad, AdSet, DailyInsight, ReportRow

__all__ = [
    "DEMOGRAPHIC_REPORTS",
    "WINDOWS_REPORT",
    "basic_ad_tables",
    "demographic_tables",
    "windowed_ads",
]

DEMOGRAPHIC_REPORTS = ("country", "region")
WINDOWS_REPORT = "actions_by_device"  # ad-level daily actions with every attribution window

Tables = list[tuple[str, list[tuple[Any, ...]], list[tuple[Any, ...]]]]


def _report_day(tenant: str, report: str, account: str, span: str) -> list[dict[str, Any]]:
    """The ad-level rows of one report, account and day."""
    where = {"tenant_id": tenant, "report": report, "account_id": account, "span": span}
    return [d for d in ReportRow._get_collection().find(where) if d["level"] == "ad"]


def _windows(tenant: str, ads: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, list[Any]]]:
    """The ``actions_by_device`` entries of the ads' days, summed over devices later."""
    found: dict[tuple[str, str], dict[str, list[Any]]] = {}
    wanted = {(d["entity_id"], d["date"]) for d in ads}
    for account, day in sorted({(d["account_id"], d["date"]) for d in ads}):
        for row in _report_day(tenant, WINDOWS_REPORT, account, day):
            key = (row["entity_id"], row["span"])
            if key not in wanted:
                continue
            slot = found.setdefault(key, {"actions": [], "action_values": []})
            slot["actions"] += row.get("actions") or []
            slot["action_values"] += row.get("action_values") or []
    return found


def basic_ad_tables(
    tenant: str, ads: list[dict[str, Any]], converter: Converter | None, synced: datetime
) -> Tables:
    """``basic_ad``, ``basic_ad_actions`` and ``basic_ad_action_values`` for ad-level daily
    rows (the ad's and ad set's names read once per batch)."""
    if not ads:
        return []
    ids = {d["entity_id"] for d in ads} | {str(d["adset_id"]) for d in ads if d.get("adset_id")}
    names = {
        o["meta_id"]: o.get("name")
        for model in (Ad, AdSet)
        for o in model._get_collection().find(
            {"tenant_id": tenant, "meta_id": {"$in": sorted(ids)}}, {"meta_id": 1, "name": 1}
        )
    }
    tables: Tables = [("basic_ad", [basic_ad_row(d, names, converter, synced) for d in ads], [])]
    windows = _windows(tenant, ads)
    days = [as_date(d["date"]) for d in ads]
    # a day that is no date names no parent (its rows are set aside by the checks)
    parents = [
        (d["entity_id"], on)
        for d, on in zip(ads, days, strict=True)
        if not isinstance(on, Unconvertible)
    ]
    for table, key in (
        ("basic_ad_actions", "actions"),
        ("basic_ad_action_values", "action_values"),
    ):
        rows = []
        for d, on in zip(ads, days, strict=True):
            rate = None
            if key == "action_values" and converter is not None:
                rate = converter.rate(d.get("currency"), d["date"])
            parent = {"ad_id": d["entity_id"], "date": on}
            extra = windows.get((d["entity_id"], d["date"]), {}).get(key, [])
            rows += action_rows(table, parent, d.get(key) or [], synced, rate, extra)
        tables.append((table, rows, parents))
    return tables


def windowed_ads(tenant: str, account: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ad-level daily rows whose attribution windows a batch of report rows moved."""
    windowed = {(d["entity_id"], d["span"]) for d in docs if d["report"] == WINDOWS_REPORT}
    return [
        d
        for day in sorted({span for _, span in windowed})
        for d in DailyInsight._get_collection().find(
            {"tenant_id": tenant, "account_id": account, "date": day, "level": "ad"}
        )
        if is_basic_ad_row(d) and (d["entity_id"], d["date"]) in windowed
    ]


def demographic_tables(
    tenant: str,
    account: str,
    docs: list[dict[str, Any]],
    converter: Converter | None,
    synced: datetime,
) -> Tables:
    """``demographics_<report>`` and its actions for each ad-level day a batch of report rows
    touches, rebuilt from every row of that report, account and day."""
    tables: Tables = []
    for report in DEMOGRAPHIC_REPORTS:
        spans = {d["span"] for d in docs if d["report"] == report and d["level"] == "ad"}
        group = [d for span in sorted(spans) for d in _report_day(tenant, report, account, span)]
        if not group:
            continue
        rows, actions, parents = demographics_rows(report, group, converter, synced)
        tables += [
            (f"demographics_{report}", rows, []),
            (f"demographics_{report}_actions", actions, parents),
        ]
    return tables
