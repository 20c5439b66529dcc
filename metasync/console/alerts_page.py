"""The alerts the notifier opened (:mod:`metasync.alerts`), as the console shows them: what
holds, since when, why, and what to do about it (no HTML here).

The notifier keeps one :class:`~metasync.models.AlertState` per problem while it holds, whether
or not a channel is configured, so what fired is visible here and not only in a worker's log.
The reason and the fix are worked out when the page is read, from the problem's key (its
condition and subject) and, for an account's flag, from the account's kept health record (the
last error, the lag, the token's and data access's ends): a page costs one query for the open
alerts and one for the health records they name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from metasync.health.pages import health_of
from metasync.health.reasons import LEADS_NOT_GRANTED_FIX, LEADS_NOT_GRANTED_WHY, flag_reason
from metasync.models import AccountHealthRecord, AlertState, aware, utcnow

__all__ = ["OpenAlert", "account_alerts", "open_alerts", "open_count"]

LIMIT = 500  # the page lists at most this many, the oldest first
ACCOUNT_FLAGS = ("lagging", "expiring", "failing")
FIXES = {
    "throttled": (
        "Meta's rate limits for this account are spent; metasync waits and goes on by itself",
        "nothing: the next sync after the block catches up (no need to press Sync now)",
    ),
    "report-jobs": (
        "Meta failed or refused report jobs of this tenant within the last hour",
        "open the tenant's accounts, read the error of their Report jobs, and sync again once "
        "fixed (metasync runs --tenant TENANT shows the runs)",
    ),
    "webhooks": (
        "changes Meta announced by webhook could not be applied within the last hour",
        "read the Webhook events of the accounts concerned; the hourly sync reads the changes "
        "again in any case",
    ),
    "optimizer": (
        "the tenant's rules cannot be evaluated (the error says which rule and field)",
        "correct the rules file and store it again: metasync rules set --tenant TENANT FILE",
    ),
    "restore-refused": (
        "Meta refused to take back a write of the optimizer",
        "fix the cause Meta named, then press Undo again on the tenant's Recommendations page",
    ),
    "api-version": (
        "the configured Graph API version expired and Meta upgraded the calls silently",
        "set META_API_VERSION to a live version and restart the workers",
    ),
}


@dataclass(frozen=True)
class OpenAlert:
    """One open problem: ``summary`` as the notifier said it, ``reason`` and ``fix`` in plain
    words, ``link`` to the page where it is acted on (None when there is none)."""

    key: str
    condition: str
    summary: str
    opened_at: datetime | None
    announced: bool
    reason: str
    fix: str
    link: str | None


def _account_flag(flag: str, record: dict[str, Any] | None, now: datetime) -> tuple[str, str]:
    """Why an account is ``flag`` and what to do, from its health record."""
    if record is None:
        return ("the account is no longer held by the connection", "nothing: it clears itself")
    return flag_reason(flag, health_of(record, now))


def open_count() -> int:
    """How many problems hold (one indexed count)."""
    return int(AlertState._get_collection().count_documents({"cleared_at": None}))


def account_alerts(connection_id: str, account_id: str) -> list[OpenAlert]:
    """The open problems of one account of one connection (its flags), with reason and fix."""
    keys = [f"{flag}:{connection_id}:{account_id}" for flag in ACCOUNT_FLAGS]
    return open_alerts(keys=keys)


def open_alerts(now: datetime | None = None, keys: list[str] | None = None) -> list[OpenAlert]:
    """Every problem that holds (of ``keys`` only, when given), oldest first, with its reason
    and fix."""
    now = now or utcnow()
    query: dict[str, Any] = {"cleared_at": None, **({"key": {"$in": keys}} if keys else {})}
    states = list(AlertState._get_collection().find(query).sort("opened_at", 1).limit(LIMIT))
    subjects = [s["key"].split(":") for s in states]
    wanted = [(p[1], p[2]) for p in subjects if len(p) == 3 and p[0] in ACCOUNT_FLAGS]
    records = {}
    if wanted:
        query = {"$or": [{"connection_id": c, "account_id": a} for c, a in wanted]}
        records = {
            (r["connection_id"], r["account_id"]): r
            for r in AccountHealthRecord._get_collection().find(query)
        }
    found = []
    for state, parts in zip(states, subjects, strict=True):
        condition, link = parts[0], None
        if condition in ACCOUNT_FLAGS and len(parts) == 3:
            reason, fix = _account_flag(condition, records.get((parts[1], parts[2])), now)
            link = f"/console/accounts/{parts[1]}/{parts[2]}"
        else:
            reason, fix = FIXES.get(condition, (state["summary"], "see the summary"))
            if condition in ("report-jobs", "optimizer") and len(parts) > 1:
                link = f"/console?tenant={parts[1]}"
            if condition == "restore-refused":
                link = "/console/recommendations"
            if condition == "leads-access" and len(parts) > 3:
                tenant = state["key"].split(":", 3)[3]
                reason = LEADS_NOT_GRANTED_WHY
                fix = LEADS_NOT_GRANTED_FIX.replace("TENANT", tenant)
                link = f"/console/leads/{quote(tenant, safe='')}"
        found.append(
            OpenAlert(
                state["key"],
                condition,
                state["summary"],
                aware(state.get("opened_at")),
                bool(state.get("announced")),
                reason,
                fix,
                link,
            )
        )
    return found
