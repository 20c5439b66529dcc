"""Meta's reach rules for old breakdown reads, and the fault that corrupts account rows.

Meta's "Insights API: Limits and Best Practices": since 2025-06-10 Meta omits ``reach`` (and
``frequency``, ``cpp``) from breakdown reads whose start is over 13 months old, without an
error; async jobs still serve it, up to 10 such jobs per ad account per day (header
``x-fb-ads-insights-reach-throttle``), after which jobs omit it too. The header's shape is not
documented: the sandbox sends ``{"acc_id_util_pct": <percent of the 10 used>}``, the form of
Meta's other usage headers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from metasync.sandbox.rows import InsightsQuery

__all__ = [
    "REACH_FIELDS",
    "REACH_JOBS_PER_DAY",
    "REACH_THROTTLE_HEADER",
    "corrupted",
    "old_reach_start",
    "reach_job_allowed",
    "without_reach",
]

REACH_FIELDS = ("reach", "frequency", "cpp")  # the fields Meta omits (the page above)
REACH_HISTORY_MONTHS = 13
REACH_JOBS_PER_DAY = 10
REACH_THROTTLE_HEADER = "x-fb-ads-insights-reach-throttle"
CORRUPTION = Decimal("1.05")


def old_reach_start(today: date) -> date:
    """Breakdown reads starting before this day get no reach synchronously."""
    start: date = today - relativedelta(months=REACH_HISTORY_MONTHS)
    return start


def without_reach(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in REACH_FIELDS}


def reach_job_allowed(
    used: dict[tuple[str, str], int], account_id: str, today: date
) -> tuple[bool, dict[str, str]]:
    """Count one old-reach breakdown job of ``account_id`` today: whether it may carry reach,
    and the throttle header to answer with."""
    key = (account_id, today.isoformat())
    used[key] = used.get(key, 0) + 1
    allowed = used[key] <= REACH_JOBS_PER_DAY
    percent = min(100, 100 * used[key] // REACH_JOBS_PER_DAY)
    return allowed, {REACH_THROTTLE_HEADER: json.dumps({"acc_id_util_pct": percent})}


def corrupted(
    state: Any, account_id: str, query: InsightsQuery, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The ``corrupt_account_days`` fault: the account's own daily rows of the named days
    report 5 % more spend and impressions than their ads (a day to be caught reconciling)."""
    days = {
        entry.split(":", 1)[1]
        for entry in state.faults.corrupt_account_days
        if entry.split(":", 1)[0] == account_id
    }
    if not days or query.level != "account" or query.breakdowns or query.increment != "1":
        return rows
    out = []
    for row in rows:
        if row["date_start"] in days:
            row = dict(row)
            row["spend"] = str((Decimal(row["spend"]) * CORRUPTION).quantize(Decimal("0.01")))
            row["impressions"] = str(int(int(row["impressions"]) * CORRUPTION))
        out.append(row)
    return out
