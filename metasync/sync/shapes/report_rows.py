"""Meta insights rows of a report to ``ReportRow`` rows.

Counts become integers and money exact decimals, as for the daily rows. Conversions and
revenue take the first configured action type present (Meta reports a purchase under several
types), summed over its entries (one per device with the ``action_device`` action breakdown),
for the attribution setting's ``value`` and for each window the report asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from metasync.models import attribution_key, breakdown_key
from metasync.reports.definitions import ReportDefinition
from metasync.sync.shapes.insights_map import LEVEL_ID, decimal_of, pick_action

__all__ = ["map_report_row"]

KNOWN = {
    "impressions",
    "clicks",
    "inline_link_clicks",
    "reach",
    "frequency",
    "cpp",
    "spend",
    "ctr",
    "cpc",
    "cpm",
    "actions",
    "action_values",
}
COUNTS = ("impressions", "clicks", "inline_link_clicks", "reach")
DECIMALS = ("frequency", "cpp", "spend", "ctr", "cpc", "cpm")


def map_report_row(
    raw: Mapping[str, Any],
    report: ReportDefinition,
    *,
    tenant_id: str,
    account_id: str,
    currency: str | None,
    conversion_types: Sequence[str],
    fetched_at: datetime,
) -> dict[str, Any]:
    level = report.level
    entity = raw.get(LEVEL_ID[level]) or (account_id if level == "account" else None)
    breakdowns = {name: str(raw.get(name)) for name in report.breakdowns}
    actions = [dict(a) for a in raw.get("actions") or [] if isinstance(a, Mapping)]
    values = [dict(a) for a in raw.get("action_values") or [] if isinstance(a, Mapping)]
    asked = set(report.fields)
    row: dict[str, Any] = {
        "tenant_id": tenant_id,
        "account_id": account_id,
        "report": report.name,
        "level": level,
        "entity_id": str(entity) if entity is not None else None,
        "span": "all_days" if report.time_increment == "all_days" else raw.get("date_start"),
        "date_start": raw.get("date_start"),
        "date_stop": raw.get("date_stop"),
        "time_increment": report.time_increment,
        "breakdown_key": breakdown_key(breakdowns),
        "attribution_key": attribution_key(report.attribution_windows),
        "breakdowns": breakdowns,
        "campaign_id": raw.get("campaign_id"),
        "adset_id": raw.get("adset_id"),
        "ad_id": raw.get("ad_id"),
        "currency": currency,
        "attribution_setting": (
            str(raw["attribution_setting"]) if raw.get("attribution_setting") else None
        ),
        "metrics": {n: raw[n] for n in report.fields if n not in KNOWN and n in raw},
        "fetched_at": fetched_at,
    }
    for name in COUNTS:
        if name in asked:
            number = decimal_of(raw.get(name))
            row[name] = int(number) if number is not None else None
    for name in DECIMALS:
        if name in asked:
            row[name] = decimal_of(raw.get(name))
    if "actions" in asked:
        row["actions"] = actions
        row["conversions"] = pick_action(actions, conversion_types, "value")
        row["conversions_by_window"] = {
            w: pick_action(actions, conversion_types, w) for w in report.attribution_windows
        }
    if "action_values" in asked:
        row["action_values"] = values
        row["revenue"] = pick_action(values, conversion_types, "value")
        row["revenue_by_window"] = {
            w: pick_action(values, conversion_types, w) for w in report.attribution_windows
        }
    return row
