"""Which days an evaluation's streams may read: in step with the long re-read.

A day enters a matured stream (:mod:`metasync.optimize.stream`) only once the account's last
long re-read (:func:`metasync.sync.periods.reread_through`) started after the day matured
(:mod:`metasync.optimize.maturity`) and still held it in its range (``REREAD_REACH`` days back
from the day it started). So the stream reads what Meta reported for the day after it matured,
never a read made before: no window of late conversions is left unread, even when the
evaluation did not run for a while (the days it missed that fell out of the re-read's range
are skipped, which does not depend on what they held).

The re-read reaches ``META_INSIGHTS_LOOKBACK_DAYS`` days back (``REREAD_REACH`` = 28 by
default), which the evaluation passes both here and to the maturity; a maturity is at most one
day less (:func:`metasync.optimize.maturity.learned_maturity`), so a day matures inside the
range when evaluations run daily.

Cost: one query each for the accounts' time zones, their long re-reads and the tenant's
streams (their last days only).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from metasync.models import AccountSyncState, AdAccount, OptimizerStream
from metasync.optimize.decisions import DayFigures, Subject
from metasync.optimize.maturity import FINAL_AGE
from metasync.sync.periods import reread_through

__all__ = ["REREAD_REACH", "readable_days"]

REREAD_REACH = FINAL_AGE  # days back the long re-read reads from the day it starts


def readable_days(
    tenant_id: str,
    subjects: list[Subject],
    rows: dict[tuple[str, str], list[DayFigures]],
    through: dict[str, date],
    reach: int = REREAD_REACH,
) -> tuple[dict[tuple[str, str], list[DayFigures]], dict[str, date]]:
    """The rows streams may read and each account's newest complete day as its last long
    re-read saw it (:func:`metasync.sync.periods.reread_through`), what its streams may
    mature from: a day enters a stream only once a re-read started after it matured, so the
    stream holds what Meta reported for it by then. That re-read covered ``reach`` days back
    (``META_INSIGHTS_LOOKBACK_DAYS``; ``REREAD_REACH`` by default) from the day it started; an
    older day (the evaluation did not run while it matured) was not re-read since it matured
    and is left out of the rows, so the stream skips it; the days a stream already holds stay
    in them (the history its day-to-day variation is estimated from). An account with no
    re-read recorded (rows not written by a sync) is taken as read through ``through``."""
    zones = {
        a.account_id: a.timezone_name
        for a in AdAccount.objects(tenant_id=tenant_id).only("account_id", "timezone_name")
    }
    last: dict[str, datetime] = {}
    states = AccountSyncState.objects(tenant_id=tenant_id, last_lookback_at__ne=None)
    for state in states.only("account_id", "last_lookback_at"):
        seen = last.get(state.account_id)
        last[state.account_id] = max(state.last_lookback_at, seen or state.last_lookback_at)
    bounds: dict[str, date] = {}
    floors: dict[str, str] = {}
    for account, newest in through.items():
        read = reread_through(last.get(account), zones.get(account))
        bounds[account] = min(newest, read) if read is not None else newest
        if read is not None:  # the re-read started the day after ``read``
            floors[account] = (read + timedelta(days=1 - reach)).isoformat()
    held = {  # what each stream holds: its days stay readable (the variation's history)
        (doc.level, doc.entity_id): doc.through or ""
        for doc in OptimizerStream.objects(tenant_id=tenant_id).only(
            "level", "entity_id", "through"
        )
    }
    readable = {}
    for subject in subjects:
        key = (subject.level, subject.entity_id)
        floor, kept = floors.get(subject.account_id, ""), held.get(key, "")
        readable[key] = [r for r in rows.get(key, []) if r.date >= floor or r.date <= kept]
    return readable, bounds
