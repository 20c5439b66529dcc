"""Daily performance rows.

The natural key is (tenant, ad account, level, entity id, date, breakdown key, attribution key).
Breakdowns and attribution settings are folded into canonical strings by
:func:`breakdown_key` and :func:`attribution_key` so that the unique index stays simple and two
rows that differ only in a breakdown value never overwrite each other (the bug that made other
connectors lose rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    ListField,
    LongField,
    StringField,
)

from metasync.models.base import BASE_META, Money, NaturalKeyed

__all__ = ["DailyInsight", "InsightLevel", "InsightMetrics", "attribution_key", "breakdown_key"]


class InsightLevel:
    ACCOUNT = "account"
    CAMPAIGN = "campaign"
    ADSET = "adset"
    AD = "ad"
    ALL = (ACCOUNT, CAMPAIGN, ADSET, AD)


def breakdown_key(breakdowns: Mapping[str, Any]) -> str:
    """Canonical form of breakdown values: ``"age=18-24|gender=female"``; ``""`` for none."""
    return "|".join(f"{name}={breakdowns[name]}" for name in sorted(breakdowns))


def attribution_key(windows: Iterable[str]) -> str:
    """Canonical form of attribution windows: ``"1d_view,7d_click"``; ``"default"`` for none."""
    unique = sorted(set(windows))
    return ",".join(unique) if unique else "default"


class InsightMetrics(Document):  # type: ignore[misc]
    """The metrics an insights row keeps, shared by the daily rows and report rows."""

    breakdowns = DictField()
    campaign_id = StringField()
    adset_id = StringField()
    ad_id = StringField()
    currency = StringField()
    impressions = LongField()
    clicks = LongField()
    inline_link_clicks = LongField()  # clicks on the ad's links (``clicks`` counts every click)
    reach = LongField()
    frequency = Money()
    spend = Money()
    ctr = Money()
    cpc = Money()
    cpm = Money()
    conversions = Money()
    revenue = Money()
    actions = ListField(DictField())
    action_values = ListField(DictField())
    # Meta's video metrics as Meta gives them (lists of {"action_type": "video_view", "value"}):
    # plays, ThruPlays, plays reaching 25/50/75/95/100 % and the average seconds watched per
    # play; empty for rows without video plays (metasync.sync.shapes.insights_map.VIDEO_FIELDS)
    video_play_actions = ListField(DictField())
    video_thruplay_watched_actions = ListField(DictField())
    video_p25_watched_actions = ListField(DictField())
    video_p50_watched_actions = ListField(DictField())
    video_p75_watched_actions = ListField(DictField())
    video_p95_watched_actions = ListField(DictField())
    video_p100_watched_actions = ListField(DictField())
    video_avg_time_watched_actions = ListField(DictField())
    # The ad set's unified attribution setting Meta applied ("7d_click_1d_view"; "mixed" for a
    # row over ad sets with different settings). Meta always applies it since 2025-06-10.
    attribution_setting = StringField()
    fetched_at = DateTimeField()  # the writing worker's clock: shown, never used to order
    seq = LongField()  # the write number (per ad account) the warehouse export reads rows by

    meta: ClassVar[dict[str, Any]] = {"abstract": True}


class DailyInsight(NaturalKeyed, InsightMetrics):
    """One entity's metrics for one day (in the ad account's timezone)."""

    numbered = True
    natural_key = (
        "tenant_id",
        "account_id",
        "level",
        "entity_id",
        "date",
        "breakdown_key",
        "attribution_key",
    )

    tenant_id = StringField(required=True)
    account_id = StringField(required=True)
    level = StringField(required=True, choices=InsightLevel.ALL)
    entity_id = StringField(required=True)
    date = StringField(required=True, regex=r"^\d{4}-\d{2}-\d{2}$")  # YYYY-MM-DD, account tz
    breakdown_key = StringField(default="")
    attribution_key = StringField(default="default")

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "daily_insights",
        "indexes": [
            {"fields": list(natural_key), "unique": True, "name": "natural_key"},
            {"fields": ["tenant_id", "account_id", "date"]},  # an account's days
            {"fields": ["tenant_id", "campaign_id", "date"]},  # a campaign's rows, every level
            # the warehouse export reads what each account's syncs wrote since its last export
            {"fields": ["tenant_id", "account_id", "seq"]},
        ],
    }
