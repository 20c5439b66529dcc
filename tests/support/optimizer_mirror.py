"""A small mirror for the optimizer's tests: one account in UTC, ad sets winning, learning
and learning limited, and ads expensive, fatigued, lucky, learning and just changed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from metasync.models import Ad, AdAccount, AdSet, DailyInsight

__all__ = ["NOW", "RULES", "YESTERDAY", "build_mirror", "rows"]

# midday today, so that a worker evaluating at the real time sees the same mirror
NOW = datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)
YESTERDAY = NOW.date() - timedelta(days=1)  # the newest complete day (accounts in UTC)
RULES = """
rules:
  - kind: cost_per_conversion
    target: 20
  - kind: return_on_spend
    target: 2
    days: 3
  - kind: creative_fatigue
  - kind: learning_limited
"""


def rows(tenant: str, level: str, entity: str, days: int, **figures: Any) -> None:
    last = YESTERDAY
    for back in range(days):
        DailyInsight(
            tenant_id=tenant,
            account_id="1",
            level=level,
            entity_id=entity,
            date=(last - timedelta(days=back)).isoformat(),
            impressions=figures.get("impressions", 1000),
            clicks=figures.get("clicks", 20),
            spend=Decimal(str(figures.get("spend", 10))),
            conversions=Decimal(str(figures.get("conversions", 0))),
            revenue=Decimal(str(figures.get("revenue", 0))),
            frequency=Decimal(str(figures.get("frequency", 1.5))),
        ).save()


def build_mirror(tenant: str) -> None:
    old = NOW - timedelta(days=30)
    AdAccount(
        tenant_id=tenant, meta_id="act_1", account_id="1", currency="USD", timezone_name="UTC"
    ).save()
    limited_since = int((NOW - timedelta(days=10)).timestamp())
    adsets = {
        "s-win": ({"status": "SUCCESS"}, old, "100.00"),
        "s-learning": ({"status": "LEARNING"}, old, "100.00"),
        "s-limited": ({"status": "FAIL", "last_sig_edit_ts": limited_since}, old, "50.00"),
    }
    for meta_id, (stage, updated, budget) in adsets.items():
        AdSet(
            tenant_id=tenant, meta_id=meta_id, account_id="1", status="ACTIVE",
            effective_status="ACTIVE", updated_time=updated, learning_stage_info=stage,
            daily_budget=Decimal(budget),
        ).save()  # fmt: skip
    ads = {
        "a-expensive": ("s-win", old),
        "a-fatigued": ("s-win", old),
        "a-two-conversions": ("s-win", old),
        "a-learning": ("s-learning", old),
        "a-changed": ("s-win", NOW - timedelta(hours=1)),
    }
    for meta_id, (adset, updated) in ads.items():
        Ad(
            tenant_id=tenant, meta_id=meta_id, account_id="1", adset_id=adset, status="ACTIVE",
            effective_status="ACTIVE", updated_time=updated,
        ).save()  # fmt: skip
    for expensive in ("a-expensive", "a-learning", "a-changed"):  # 14 matured days (7-day click)
        rows(tenant, "ad", expensive, 21, spend=60, conversions=1)
    rows(tenant, "ad", "a-two-conversions", 14, spend=10, conversions=0)
    DailyInsight.objects(tenant_id=tenant, entity_id="a-two-conversions").order_by("date").first(
    ).update(set__conversions=Decimal(2))  # fmt: skip
    rows(tenant, "ad", "a-fatigued", 7, clicks=8, frequency=3.6)  # this week
    for back in range(7, 14):  # the week before: a click-through rate three times higher
        DailyInsight(
            tenant_id=tenant, account_id="1", level="ad", entity_id="a-fatigued",
            date=(YESTERDAY - timedelta(days=back)).isoformat(), impressions=1000,
            clicks=30, spend=Decimal(10), conversions=Decimal(5), revenue=Decimal(0),
        ).save()  # fmt: skip
    # 13 matured days; the account's day-to-day variation can be told from its 6th day (10
    # pairs of days of its two ad sets before it), so 7 of them enter the stream
    rows(tenant, "adset", "s-win", 20, spend=100, conversions=30, revenue=900)
    rows(tenant, "adset", "s-learning", 20, spend=100, conversions=30, revenue=900)
