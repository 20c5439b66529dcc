"""The mirror's rows as the rules' figures: daily rows by entity, and spend by hour.

:func:`daily_figures` reads the ad and ad set daily rows of a tenant (one query).
:func:`hourly_spend` is each ad set's spend by hour of its account's day, what
:func:`metasync.optimize.budgets.pace` reads: the rows of a report broken down by
``hourly_stats_aggregated_by_advertiser_time_zone`` (the prebuilt ``hourly`` report, or a custom
one), at ad or ad set level, summed by ad set. When a tenant has two such reports, the first by
name is used, so no hour is counted twice. One query; a tenant of 1,000 ad sets and 7 days
reads up to 168,000 rows (ads x hours x days when the report is at ad level).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from metasync.models import DailyInsight, ReportRow, as_decimal
from metasync.optimize.decisions import DayFigures
from metasync.reports.catalogue import HOURLY_BREAKDOWNS

__all__ = ["BY_ADVERTISER_HOUR", "FIGURE_FIELDS", "daily_figures", "hourly_spend", "number"]

BY_ADVERTISER_HOUR = HOURLY_BREAKDOWNS[0]  # hours of the ad account's time zone


def number(value: Any) -> float:
    """A stored amount (Decimal, Decimal128 or None) as a float; None is 0."""
    return float(as_decimal(value) or 0)


# the fields the rules read: a daily row also holds Meta's actions, action values and video
# lists, whose decoding into documents was most of an evaluation's time
FIGURE_FIELDS = (
    "account_id",
    "level",
    "entity_id",
    "date",
    "spend",
    "impressions",
    "clicks",
    "conversions",
    "revenue",
    "frequency",
)


def _figures(row: dict[str, Any]) -> DayFigures:
    """A raw daily row (as stored: amounts as Decimal128) as the rules' figures."""
    frequency = row.get("frequency")
    return DayFigures(
        date=row["date"],
        spend=number(row.get("spend")),
        impressions=int(row.get("impressions") or 0),
        clicks=int(row.get("clicks") or 0),
        conversions=round(number(row.get("conversions"))),
        revenue=number(row.get("revenue")),
        frequency=number(frequency) if frequency is not None else None,
    )


def daily_figures(
    tenant_id: str, through: dict[str, date], days: int
) -> dict[tuple[str, str], list[DayFigures]]:
    """Ad and ad set daily rows of the tenant, by (level, entity id), oldest first: ``days``
    complete days up to each account's ``through`` day (one query, of :data:`FIGURE_FIELDS`
    only, read raw: no document is built)."""
    earliest = min(through.values(), default=date.today()) - timedelta(days=days)
    rows: dict[tuple[str, str], list[DayFigures]] = defaultdict(list)
    query = DailyInsight.objects(
        tenant_id=tenant_id,
        level__in=("ad", "adset"),
        breakdown_key="",
        attribution_key="default",
        date__gte=earliest.isoformat(),
    )
    for row in query.only(*FIGURE_FIELDS).order_by("date").as_pymongo():
        last = through.get(row["account_id"])
        if last is not None and row["date"] <= last.isoformat():
            rows[(row["level"], row["entity_id"])].append(_figures(row))
    return rows


def hourly_spend(
    tenant_id: str, through: dict[str, date], days: int
) -> dict[str, dict[str, list[float]]]:
    """Ad set id -> date -> 24 hours' spend (account currency, major units): ``days`` days up
    to each account's ``through`` day."""
    earliest = min(through.values(), default=date.today()) - timedelta(days=days)
    found: dict[tuple[str, str], dict[str, list[float]]] = {}
    rows = ReportRow.objects(
        tenant_id=tenant_id,
        level__in=("ad", "adset"),
        breakdown_key__startswith=f"{BY_ADVERTISER_HOUR}=",
        date_start__gte=earliest.isoformat(),
    ).only("report", "account_id", "level", "entity_id", "adset_id", "date_start", "breakdowns",
           "spend")  # fmt: skip
    for row in rows:
        last = through.get(row.account_id)
        adset = row.entity_id if row.level == "adset" else row.adset_id
        if last is None or not adset or row.date_start > last.isoformat():
            continue
        hour = int(str((row.breakdowns or {}).get(BY_ADVERTISER_HOUR, "0"))[:2])
        day = found.setdefault((row.report, adset), {}).setdefault(row.date_start, [0.0] * 24)
        day[hour] += number(row.spend)
    spend: dict[str, dict[str, list[float]]] = {}
    for (_, adset), by_day in sorted(found.items()):
        spend.setdefault(adset, by_day)
    return spend
