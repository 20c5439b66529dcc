"""metasync's own change log: a campaign's or ad set's new status, budget or bid, written when
a sync first sees it.

Meta's activity log says who changed what, but not for every change (an automated rule, a
webhook-triggered read) and only as far back as Meta keeps it; this log answers "when did this
budget change" from what metasync itself read. Before a page of campaigns or ad sets is written,
the mirrored values of its objects are read in one query and compared; each difference becomes a
:class:`ChangeRecord`, keyed by a digest of (object, field, old, new, Meta's ``updated_time``) so
a page read again writes nothing new. An object seen for the first time has no previous value
and writes nothing (its creation is in the activity log).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from mongoengine import Document

from metasync.models import ChangeRecord, upsert_page, utcnow

__all__ = ["TRACKED", "record_changes"]

TRACKED = {
    "campaign": ("status", "daily_budget", "lifetime_budget", "bid_strategy"),
    "adset": ("status", "daily_budget", "lifetime_budget", "bid_amount"),
}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
    return str(value)


def _key(object_id: str, name: str, old: str | None, new: str | None, when: Any) -> str:
    text = "\x1f".join(str(part) for part in (object_id, name, old, new, when))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def record_changes(
    model: type[Document],
    kind: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    run_id: str | None,
    now: datetime | None = None,
) -> int:
    """Compare ``rows`` (about to be written) with their mirrored documents and log every
    tracked field whose value changed; returns the records written."""
    fields = TRACKED.get(kind)
    if not fields or not rows:
        return 0
    tenant_id = rows[0]["tenant_id"]
    projection = dict.fromkeys(("meta_id", *fields), 1) | {"_id": 0}
    stored = {
        doc["meta_id"]: doc
        for doc in model._get_collection().find(
            {"tenant_id": tenant_id, "meta_id": {"$in": [r["meta_id"] for r in rows]}},
            projection,
        )
    }
    moment = now or utcnow()
    records = []
    for row in rows:
        before = stored.get(row["meta_id"])
        if before is None:
            continue
        for name in fields:
            old, new = _text(before.get(name)), _text(row.get(name))
            if old == new:
                continue
            records.append(
                {
                    "tenant_id": tenant_id,
                    "change_key": _key(row["meta_id"], name, old, new, row.get("updated_time")),
                    "account_id": row["account_id"],
                    "object_kind": kind,
                    "object_id": row["meta_id"],
                    "field": name,
                    "old_value": old,
                    "new_value": new,
                    "meta_updated_time": row.get("updated_time"),
                    "seen_at": moment,
                    "run_id": run_id,
                }
            )
    upsert_page(ChangeRecord, records, moment)
    return len(records)
