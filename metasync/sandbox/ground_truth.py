"""The ground truth: exactly what a complete sync should leave in MongoDB, in Meta's shapes.

Every object of every account, archived and deleted ones included (``unlisted``: the deleted
objects Meta no longer lists on edges, which a sync keeps as tombstones with their final status),
the libraries (images, videos, custom conversions, custom audiences), each account's activity
log, and every insights row of every level over each account's data window.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from metasync.sandbox.breakdown_rules import BREAKDOWNS, RETIRED_WINDOWS
from metasync.sandbox.metrics import InsightsQuery, level_rows, query_rows
from metasync.sandbox.world import World

__all__ = ["ground_truth", "report_truth"]

# what every insights row carries whatever the request's fields (ids, dates, the setting)
IDENTITY = (
    *("account_id", "campaign_id", "adset_id", "ad_id"),
    *("date_start", "date_stop"),
    "attribution_setting",
)
# a complete daily row: Meta's delivery, cost and action fields
DAILY_FIELDS = (
    *IDENTITY,
    *("impressions", "reach", "frequency", "clicks", "inline_link_clicks"),  # delivery
    *("spend", "cpc", "cpm", "ctr"),  # cost and its ratios
    *("actions", "action_values"),
)


def ground_truth(
    world: World,
    levels: tuple[str, ...] = ("account", "campaign", "adset", "ad"),
) -> dict[str, Any]:
    insights: dict[str, list[dict[str, Any]]] = {level: [] for level in levels}
    for account_id in world.accounts:
        first, last = world.first_data_day(account_id), world.last_data_day(account_id)
        for level in levels:
            insights[level] += [
                {key: value for key, value in row.items() if key in DAILY_FIELDS}
                for row in level_rows(world, account_id, level, first, last)
            ]
    return {
        "seed": world.seed,
        "users": [
            {"id": u.id, "ad_account_ids": list(u.account_ids)} for u in world.users.values()
        ],
        "accounts": list(world.accounts.values()),
        "campaigns": list(world.campaigns.values()),
        "adsets": list(world.adsets.values()),
        "ads": list(world.ads.values()),
        "adcreatives": list(world.creatives.values()),
        "adimages": list(world.library.images.values()),
        "advideos": list(world.library.videos.values()),
        "customconversions": list(world.library.custom_conversions.values()),
        "customaudiences": list(world.library.custom_audiences.values()),
        "activities": list(world.library.activities),
        "unlisted": sorted(
            o["id"]
            for table in (world.campaigns, world.adsets, world.ads)
            for o in table.values()
            if o.get("_unlisted")
        ),
        "insights": insights,
        "windows": {
            a: [world.first_data_day(a).isoformat(), world.last_data_day(a).isoformat()]
            for a in world.accounts
        },
    }


def report_truth(
    world: World, report: Mapping[str, Any], account_id: str, since: date, until: date
) -> list[dict[str, Any]]:
    """What a complete read of ``report`` for one account over since..until returns, with
    the fields it asks for (and the ids, dates and breakdown values every row carries).
    ``report`` is a request in Meta's terms: ``level``, ``fields``, ``breakdowns``,
    ``action_breakdowns`` (``action_type`` when absent), ``attribution_windows`` and
    ``time_increment`` (``"1"`` when absent)."""
    fields = tuple(report["fields"])
    query = InsightsQuery(
        str(report["level"]),
        breakdowns=tuple(report.get("breakdowns") or ()),
        action_device="action_device" in (report.get("action_breakdowns") or ()),
        windows=tuple(
            w for w in report.get("attribution_windows") or () if w not in RETIRED_WINDOWS
        ),
        increment=str(report.get("time_increment") or "1"),
        video=any(name.startswith("video_") for name in fields),
    )
    keep = {*fields, *BREAKDOWNS, *IDENTITY}
    return [
        {key: value for key, value in row.items() if key in keep}
        for row in query_rows(world, account_id, query, since, until)
    ]
