"""Opt-in breakdowns: telling "not opted in" from "no delivery".

Since 2026-08-03 Meta's ``impression_device`` (and every combination containing it),
``hourly_stats_aggregated_by_audience_time_zone`` and ``frequency_value`` breakdowns "may return
no results for ad accounts that have not opted in" (Marketing API out-of-cycle changes, 2026).
Such an answer is an empty listing, not an error, and reads exactly like an account that
delivered nothing. So when a read of an opt-in report comes back empty, the account's delivery
over the same days decides:

- the mirror's daily rows first (free): any impressions over those days;
- else one account-level call for the days' impressions (the daily read may not have run yet).

An account that delivered gets ``ReportAccess`` ``not_opted_in`` for each report of the read:
nothing is stored as rows, and the CLI (``metasync reports access``), console, REST API and
``/metrics`` say "not opted in". The report is then planned for that account only every
``META_OPT_IN_RECHECK_HOURS`` (default 24: one read a day), so an opt-in is noticed within a
day; the first answer with rows makes it ``available`` again. Within a run, once the first
day's read of an hourly report finds it withheld, the other days' reads are skipped
(:func:`withheld_now`).

This inference is the fallback. Meta's Feature Settings API (page of that name, 2026-08-07)
states each account's features, and :mod:`metasync.sync.features` records the reports' access
from it on the daily token check; an empty answer for a feature Meta says is in effect is then
no delivery, not a missing opt-in. The inference decides only for accounts whose features
could not be read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from mongoengine.queryset.visitor import Q
from pymongo.errors import DuplicateKeyError

from metasync.graph import GraphClient, insights_params, read_insights
from metasync.models import (
    AccountFeatures,
    DailyInsight,
    FeatureStatus,
    ReportAccess,
    ReportAccessState,
    ReportRun,
    utcnow,
)
from metasync.reports.catalogue import features_needed, needs_opt_in
from metasync.reports.definitions import ReportDefinition

__all__ = [
    "delivered_impressions",
    "not_due",
    "record_answer",
    "record_job_answer",
    "set_access",
    "withheld_now",
]

log = logging.getLogger(__name__)

# how long a state read from Meta's Feature Settings API is trusted (two daily checks)
FEATURE_STATE_HOURS = 48


def not_due(
    tenant_id: str, account_ids: Sequence[str], now: datetime, every_hours: int
) -> dict[str, set[str]]:
    """account -> names of its opt-in reports not to read now: not opted in, as a read found
    less than ``every_hours`` ago, or as Meta's Feature Settings API said at a read less than
    ``FEATURE_STATE_HOURS`` (48) ago (:mod:`metasync.sync.features`). One query for all of a
    plan's accounts."""
    wanted = set(account_ids)
    query = ReportAccess.objects(
        Q(checked_at__gt=now - timedelta(hours=every_hours))
        | Q(source="feature_settings", checked_at__gt=now - timedelta(hours=FEATURE_STATE_HOURS)),
        tenant_id=tenant_id,
        state=ReportAccessState.NOT_OPTED_IN,
    )
    if len(wanted) == 1:  # one account (a read's check): by the unique key's index
        query = query.filter(account_id=account_ids[0])
    skipped: dict[str, set[str]] = {}
    for access in query.only("account_id", "report"):
        if access.account_id in wanted:
            skipped.setdefault(access.account_id, set()).add(access.report)
    return skipped


def withheld_now(
    tenant_id: str, account_id: str, reports: Sequence[ReportDefinition], every_hours: int
) -> bool:
    """Whether every report of a read is one :func:`not_due` skips for the account: the read
    is skipped. A run that finds a report withheld on its first day's read (an hourly report
    reads one day a request) thus skips the other days' reads."""
    names = {report.name for report in reports if needs_opt_in(report.breakdowns)}
    if not names or len(names) < len(reports):
        return False
    skipped = not_due(tenant_id, [account_id], utcnow(), every_hours)
    return names <= skipped.get(account_id, set())


def delivered_impressions(
    client: GraphClient, tenant_id: str, account_id: str, since: date, until: date
) -> int:
    """The account's impressions over since..until: from the mirror's daily rows when it has
    any with delivery, else one account-level call (0 when Meta has no row either)."""
    first, last = since.isoformat(), until.isoformat()
    row = (
        DailyInsight.objects(
            tenant_id=tenant_id,
            account_id=account_id,
            date__gte=first,
            date__lte=last,
            impressions__gt=0,
        )
        .only("impressions")
        .first()
    )
    if row is not None:
        return int(row.impressions)
    params = insights_params(
        level="account", fields=["impressions"], since=first, until=last, time_increment="all_days"
    )
    total = 0
    for page in read_insights(client, f"act_{account_id}", params, account_id=account_id):
        total += sum(int(float(item.get("impressions") or 0)) for item in page.items)
    return total


def record_answer(
    client: GraphClient,
    tenant_id: str,
    account_id: str,
    reports: Iterable[ReportDefinition],
    since: date,
    until: date,
    rows: int,
) -> None:
    """After a complete read of ``reports`` over since..until that gave ``rows`` rows: record
    which opt-in reports the account is (not) opted in to. Reports without an opt-in
    breakdown are ignored; an empty answer without delivery decides nothing."""
    names = [report.name for report in reports if needs_opt_in(report.breakdowns)]
    if not names:
        return
    now = utcnow()
    if rows > 0:
        for name in names:
            set_access(
                tenant_id, account_id, name, ReportAccessState.AVAILABLE, now, source="answer"
            )
        return
    if _meta_says_enabled(tenant_id, account_id, reports, now):
        return  # Meta's Feature Settings API says the feature is in effect: no guessing
    impressions = delivered_impressions(client, tenant_id, account_id, since, until)
    if impressions <= 0:
        return
    changed = [
        name
        for name in names
        if set_access(
            tenant_id,
            account_id,
            name,
            ReportAccessState.NOT_OPTED_IN,
            now,
            checked_since=since.isoformat(),
            checked_until=until.isoformat(),
            delivered_impressions=impressions,
            source="answer",
            feature=None,
            feature_status=None,
        )
    ]
    if not changed:  # said once, when it is first seen
        return
    log.warning(
        "account %s delivered %d impressions over %s..%s but Meta returned no rows for %s: "
        "the account has not opted in to these breakdowns (Ads Manager)",
        account_id,
        impressions,
        since,
        until,
        ", ".join(changed),
    )


def _meta_says_enabled(
    tenant_id: str, account_id: str, reports: Iterable[ReportDefinition], now: datetime
) -> bool:
    """Whether a recent Feature Settings API read has every feature of these gated reports
    in effect for the account (then an empty answer is no delivery, not a missing opt-in)."""
    needed = set().union(*(features_needed(report.breakdowns) for report in reports))
    features = (
        AccountFeatures.objects(
            tenant_id=tenant_id,
            account_id=account_id,
            read_at__gt=now - timedelta(hours=FEATURE_STATE_HOURS),
        )
        .only("features")
        .first()
    )
    if features is None or not needed:
        return False
    return all(features.status(name) == FeatureStatus.ENABLED for name in needed)


def record_job_answer(
    client: GraphClient, tenant_id: str, reports: Iterable[ReportDefinition], job: ReportRun
) -> None:
    """:func:`record_answer` for a completed async job, by the rows its results gave
    (``job.written`` as loaded when the job was done)."""
    time_range = job.params["time_range"]
    record_answer(
        client,
        tenant_id,
        job.account_id,
        reports,
        date.fromisoformat(time_range["since"]),
        date.fromisoformat(time_range["until"]),
        sum((job.written or {}).values()),
    )


def set_access(
    tenant_id: str, account_id: str, report: str, state: str, now: datetime, **evidence: object
) -> bool:
    """Upsert one account's access to one report in one atomic step (two workers reading two
    days of one account may answer together); ``since`` moves only when the state does.
    Returns whether the state changed."""
    key = {"tenant_id": tenant_id, "account_id": account_id, "report": report}
    change = {"$set": {"state": state, "checked_at": now, **evidence}}
    collection = ReportAccess._get_collection()
    for attempt in (1, 2):  # a concurrent first upsert of the same key: the second finds it
        try:
            before = collection.find_one_and_update(
                key, {**change, "$setOnInsert": {"since": now}}, {"state": 1}, upsert=True
            )
            break
        except DuplicateKeyError:
            if attempt == 2:
                raise
    changed = before is None or before.get("state") != state
    if before is not None and changed:
        collection.update_one(key, {"$set": {"since": now}})
    return changed
