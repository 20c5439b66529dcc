"""Reconciliation: does each day's account row equal the sum of its ad rows?

After every performance run, per account and day of the range it read, the ad-level daily
rows' spend, impressions and clicks are summed and compared with the account-level row (Meta's
account row counts every ad, archived and deleted ones included, so they agree unless rows were
lost or Meta's numbers moved between the two reads). A difference above
``RECONCILE_TOLERANCE_PCT`` (0.5 %) is a ``mismatch``, logged and kept in ``reconciliations``
for ``metasync verify``; rows on one side only are ``missing``.

Cost: one indexed read of the account's rows of the range (ad and account levels, three
metrics), done by the worker that closes the run; a lookback run of 1,000 accounts of 50 ads
reads about 1.4 million small rows once a day.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from metasync.models import DailyInsight, Reconciliation, RunPlan, SyncRun, upsert_page, utcnow

__all__ = ["METRICS", "RECONCILE_TOLERANCE_PCT", "compare", "reconcile_run"]

log = logging.getLogger(__name__)

METRICS = ("spend", "impressions", "clicks")
RECONCILE_TOLERANCE_PCT = 0.5


def _number(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value.to_decimal() if hasattr(value, "to_decimal") else Decimal(str(value))


def compare(ads: Mapping[str, Decimal], account: Mapping[str, Decimal] | None) -> dict[str, Any]:
    """The outcome of one day: status and each metric's relative difference in percent."""
    if account is None:
        return {"status": "missing", "differences": {}}
    differences = {}
    for metric in METRICS:
        expected, got = account.get(metric, Decimal(0)), ads.get(metric, Decimal(0))
        base = max(abs(expected), abs(got))
        differences[metric] = float(abs(expected - got) / base * 100) if base else 0.0
    worst = max(differences.values())
    return {
        "status": "mismatch" if worst > RECONCILE_TOLERANCE_PCT else "ok",
        "differences": differences,
    }


def _account_days(
    tenant_id: str, account_id: str, since: str, until: str
) -> tuple[dict[str, dict[str, Decimal]], dict[str, dict[str, Decimal]], dict[str, int]]:
    ads: dict[str, dict[str, Decimal]] = {}
    accounts: dict[str, dict[str, Decimal]] = {}
    ad_rows: dict[str, int] = {}
    cursor = DailyInsight._get_collection().find(
        {"tenant_id": tenant_id, "account_id": account_id, "date": {"$gte": since, "$lte": until}},
        {"_id": 0, "level": 1, "date": 1, "breakdown_key": 1, **dict.fromkeys(METRICS, 1)},
    )
    for row in cursor:
        if row.get("breakdown_key") or row["level"] not in ("ad", "account"):
            continue
        day = row["date"]
        if row["level"] == "account":
            accounts[day] = {m: _number(row.get(m)) for m in METRICS}
            continue
        totals = ads.setdefault(day, dict.fromkeys(METRICS, Decimal(0)))
        for metric in METRICS:
            totals[metric] += _number(row.get(metric))
        ad_rows[day] = ad_rows.get(day, 0) + 1
    return ads, accounts, ad_rows


def reconcile_run(run: SyncRun) -> dict[str, int]:
    """Reconcile every account and day a performance run read; returns counts by status."""
    plan = RunPlan.of(run.pk)
    levels = set((run.period or {}).get("levels") or ())
    if not {"ad", "account"} <= levels:
        return {}
    counts: dict[str, int] = {}
    now = utcnow()
    for account_id, (since, until) in (plan.ranges or {}).items():
        ads, accounts, ad_rows = _account_days(run.tenant_id, account_id, since, until)
        rows = []
        for day in sorted(set(ads) | set(accounts)):
            outcome = compare(ads.get(day, {}), accounts.get(day))
            if day not in ads and day in accounts and not any(accounts[day].values()):
                outcome = {"status": "ok", "differences": {}}
            counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
            if outcome["status"] != "ok":
                log.warning(
                    "reconciliation %s: account %s on %s, ads %s, account row %s",
                    outcome["status"],
                    account_id,
                    day,
                    {m: str(v) for m, v in ads.get(day, {}).items()},
                    {m: str(v) for m, v in accounts.get(day, {}).items()},
                    extra={"run_id": str(run.pk), "tenant_id": run.tenant_id},
                )
            rows.append(
                {
                    "tenant_id": run.tenant_id,
                    "account_id": account_id,
                    "date": day,
                    "status": outcome["status"],
                    "differences": outcome["differences"],
                    "ads": {m: str(v) for m, v in ads.get(day, {}).items()},
                    "account": {m: str(v) for m, v in accounts.get(day, {}).items()},
                    "ad_rows": ad_rows.get(day, 0),
                    "run_id": str(run.pk),
                    "checked_at": now,
                }
            )
        upsert_page(Reconciliation, rows, now)
    return counts
