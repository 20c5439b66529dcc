"""How much of an ad account's day of conversions each read saw, by the day's age: the data the
optimizer learns the account's reporting lag from (:mod:`metasync.optimize.maturity`).

One document per account and day (account time zone), written by the sync from the account
level daily row each time it reads that day (:mod:`metasync.sync.write.arrivals`): ``seen`` maps the
age of the read (local days after the day: "0" read during the day itself, "1" the next day,
...; reads older than ``FINAL_AGE`` are kept under it) to the conversions it saw, the highest
when a day is read several times at one age.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, Document, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["FINAL_AGE", "ConversionArrivals"]

FINAL_AGE = 28  # days: Meta restates a day's figures for up to 28 days; a day this old is final


class ConversionArrivals(Document):  # type: ignore[misc]
    """One account day's conversions as each read saw them (``seen``: age in days -> count)."""

    tenant_id = StringField(required=True)
    account_id = StringField(required=True)  # numeric, without "act_"
    date = StringField(required=True, regex=r"^\d{4}-\d{2}-\d{2}$")  # YYYY-MM-DD, account tz
    seen = DictField()  # {"0": 12.0, "1": 15.0, ..., "28": 17.0}
    updated_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "conversion_arrivals",
        "indexes": [
            {"fields": ["tenant_id", "account_id", "date"], "unique": True},
            {"fields": ["updated_at"]},  # the retention's removal (metasync.retention)
        ],
    }
