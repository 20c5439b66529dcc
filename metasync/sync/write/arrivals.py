"""Recording what each read of an account's day saw of its conversions, by the day's age: the
data :mod:`metasync.optimize.maturity` learns the account's reporting lag from.

Every page of account-level daily rows (one row per day) is recorded with one unordered bulk
write to :class:`~metasync.models.ConversionArrivals`, one ``$max`` per day under the read's
age (local days after the day, in the account's time zone; ages past ``FINAL_AGE`` recorded
under it). ``$max`` keeps the highest count a read at that age saw, so a page written twice, or
read twice at one age, records the same thing. Pages at other levels record nothing: the
account's total is read once per day, and a campaign, ad set or ad row would only repeat it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from pymongo import UpdateOne

from metasync.models import FINAL_AGE, ConversionArrivals, utcnow
from metasync.sync.periods import account_today

__all__ = ["record_arrivals"]


def record_arrivals(
    rows: Iterable[Mapping[str, Any]], timezone_name: str | None, now: datetime | None = None
) -> int:
    """Record the conversions the account-level ``rows`` (one page, one account, as
    ``DailyInsight`` rows) show at their age ``now`` (one bulk write); returns the days
    recorded."""
    moment = now or utcnow()
    today = account_today(timezone_name, moment)
    writes = []
    for row in rows:
        if row.get("level") != "account" or row.get("breakdown_key") or not row.get("date"):
            continue
        if row.get("attribution_key", "default") != "default":
            continue
        age = (today - date.fromisoformat(str(row["date"]))).days
        if age < 0:
            continue
        key = {"tenant_id": row["tenant_id"], "account_id": row["account_id"], "date": row["date"]}
        change = {
            "$max": {f"seen.{min(age, FINAL_AGE)}": float(row.get("conversions") or 0)},
            "$set": {"updated_at": moment},
        }
        writes.append(UpdateOne(key, change, upsert=True))
    if writes:
        ConversionArrivals._get_collection().bulk_write(writes, ordered=False)
    return len(writes)
