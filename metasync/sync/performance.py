"""Daily performance rows: planning a run's reads, synchronous chunks, and async report jobs.

Per ad account and level, one read covers every entity of that level (``level`` +
``time_increment=1`` on the account). Ranges up to ``META_INSIGHTS_SYNC_MAX_DAYS`` are read
synchronously, a few pages per task; longer ones, and any synchronous read Meta times out, go
through an async report job whose state lives in ``ReportRun``:

- each step of a job is one short task: start it, poll it (the task re-schedules itself with a
  countdown that doubles from ``META_REPORT_POLL_SECONDS`` up to 2 minutes, because every poll
  is a call from the connection's hourly budget), or page its results into MongoDB (the cursor
  is stored, so a crash resumes there);
- a worker that dies during a step leaves ``step_open`` set; the next step resumes the same
  report run id and counts a resume;
- a failed or skipped job, one stuck at 100 % "Job Running" past ``META_REPORT_STUCK_SECONDS``,
  or one older than an hour, is started once more, then split: by halves of the account's
  campaigns (from the entity mirror) for campaign/ad set/ad levels, else by halving the range;
  a job too small to split, or short enough (``META_INSIGHTS_SYNC_MAX_DAYS``), is read
  synchronously instead, so a run ends complete even when Meta keeps failing jobs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from mongoengine.errors import NotUniqueError

from metasync.graph import (
    GraphClient,
    insights_params,
    read_insights,
    report_results,
    report_status,
    start_report,
)
from metasync.models import (
    AdAccount,
    Campaign,
    DailyInsight,
    MetaConnection,
    ReportRun,
    ReportStatus,
    SyncRun,
    upsert_page,
    utcnow,
)
from metasync.sync import runs
from metasync.sync.context import SyncContext
from metasync.sync.insights_map import map_insight_row
from metasync.sync.periods import Period, account_today, resolve
from metasync.sync.subtasks import IncompleteListing, Subtask

__all__ = [
    "INSIGHTS_PAGE_SIZE",
    "JobStep",
    "plan_performance",
    "read_insights_chunk",
    "report_step",
]

INSIGHTS_PAGE_SIZE = 500
PAGES_PER_TASK = 5
JOB_MAX_AGE = timedelta(hours=1)
JOB_STARTS_BEFORE_SPLIT = 2
MAX_POLL_SECONDS = 120.0


def plan_performance(
    ctx: SyncContext,
    run: SyncRun,
    connection: MetaConnection,
    accounts: list[str],
    explicit: Period | None,
    levels: tuple[str, ...] | None = None,
) -> list[Subtask]:
    """One subtask per account and level: a synchronous read or a report job."""
    settings, now = ctx.settings, utcnow()
    subtasks: list[Subtask] = []
    kinds = set()
    for account_id in accounts:
        account = AdAccount.objects(
            tenant_id=connection.tenant_id, meta_id=f"act_{account_id}"
        ).first()
        today = account_today(account.timezone_name if account else None, now)
        since, until, kind = resolve(settings, connection, today, explicit, now)
        kinds.add(kind)
        days = (until - since).days + 1
        for level in levels or settings.META_INSIGHTS_LEVELS:
            if days <= settings.META_INSIGHTS_SYNC_MAX_DAYS:
                subtasks.append(
                    Subtask(
                        str(run.pk),
                        str(connection.pk),
                        account_id,
                        f"insights:{level}",
                        since=since.isoformat(),
                        until=until.isoformat(),
                    )
                )
            else:
                subtasks.append(report_subtask(run, connection, account_id, level, since, until))
    SyncRun.objects(pk=run.pk).update(
        set__period={
            "kind": sorted(kinds)[0] if len(kinds) == 1 else "mixed",
            "levels": list(levels or settings.META_INSIGHTS_LEVELS),
        }
    )
    return subtasks


def report_subtask(
    run: SyncRun, connection: MetaConnection, account_id: str, level: str, since: date, until: date
) -> Subtask:
    key = f"{run.pk}:{account_id}:{level}:{since.isoformat()}:{until.isoformat()}"
    return Subtask(
        str(run.pk),
        str(connection.pk),
        account_id,
        f"report:{level}",
        since=since.isoformat(),
        until=until.isoformat(),
        job_key=key,
    )


def _write_rows(
    ctx: SyncContext,
    connection: MetaConnection,
    account: AdAccount | None,
    account_id: str,
    level: str,
    items: list[dict[str, Any]],
) -> int:
    now = utcnow()
    rows = [
        map_insight_row(
            raw,
            tenant_id=connection.tenant_id,
            account_id=account_id,
            level=level,
            currency=account.currency if account else None,
            conversion_types=ctx.settings.META_CONVERSION_ACTION_TYPES,
            fetched_at=now,
        )
        for raw in items
    ]
    rows = [row for row in rows if row["entity_id"] and row["date"]]
    upsert_page(DailyInsight, rows, now)
    return len(rows)


@dataclass
class ChunkResult:
    next_after: str | None
    pages: int


def read_insights_chunk(
    ctx: SyncContext,
    client: GraphClient,
    connection: MetaConnection,
    sub: Subtask,
    on_page: Callable[[int, dict[str, int]], object],
) -> ChunkResult:
    """Up to five pages of a synchronous insights read. ``InsightsTimeoutError`` propagates:
    the caller turns the read into a report job."""
    level = sub.edge.split(":", 1)[1]
    account = AdAccount.objects(
        tenant_id=connection.tenant_id, meta_id=f"act_{sub.account_id}"
    ).first()
    params = insights_params(level=level, since=sub.since, until=sub.until)
    pages, last_after = 0, None
    listing = read_insights(
        client,
        f"act_{sub.account_id}",
        params,
        account_id=sub.account_id,
        limit=INSIGHTS_PAGE_SIZE,
        after=sub.after,
    )
    for page in listing:
        pages += 1
        written = _write_rows(ctx, connection, account, sub.account_id, level, page.items)
        on_page(pages, {level: written})
        last_after = page.after
        if pages >= PAGES_PER_TASK:
            break
    if listing.stopped_early:
        raise IncompleteListing(listing.stopped_early)
    finished = last_after is None or pages < PAGES_PER_TASK
    return ChunkResult(None if finished else last_after, pages)


@dataclass
class JobStep:
    """``poll`` after ``countdown`` seconds, or ``done`` (with follow-ups when it was split)."""

    status: str
    countdown: float = 0.0
    follow_ups: list[Subtask] = field(default_factory=list)


@dataclass(frozen=True)
class JobScope:
    """Everything one step of a report job works with."""

    ctx: SyncContext
    client: GraphClient
    connection: MetaConnection
    sub: Subtask
    job: ReportRun
    on_page: Callable[[str, dict[str, int]], object]

    def unpack(
        self,
    ) -> tuple[
        SyncContext,
        GraphClient,
        MetaConnection,
        Subtask,
        ReportRun,
        Callable[[str, dict[str, int]], object],
    ]:
        return self.ctx, self.client, self.connection, self.sub, self.job, self.on_page


def _job(sub: Subtask, connection: MetaConnection) -> ReportRun:
    existing: ReportRun | None = ReportRun.objects(job_key=sub.job_key).first()
    if existing is not None:
        return existing
    level = sub.edge.split(":", 1)[1]
    with contextlib.suppress(NotUniqueError):  # a twin task created it a moment ago
        ReportRun(
            job_key=sub.job_key,
            sync_run_id=sub.run_id,
            connection_id=sub.connection_id,
            tenant_id=connection.tenant_id,
            account_id=sub.account_id,
            level=level,
            params=insights_params(level=level, since=sub.since, until=sub.until),
        ).save()
    created: ReportRun = ReportRun.objects.get(job_key=sub.job_key)
    return created


def report_step(
    ctx: SyncContext,
    client: GraphClient,
    connection: MetaConnection,
    sub: Subtask,
    on_page: Callable[[str, dict[str, int]], object],
) -> JobStep:
    """Advance one report job by one step. Never sleeps: ``poll`` asks to be run again."""
    job = _job(sub, connection)
    if job.status == ReportStatus.SPLIT:  # split by an attempt that died before handing off
        children = ReportRun.objects(job_key__in=job.children).order_by("job_key")
        return JobStep("done", follow_ups=[_child_subtask(sub, child) for child in children])
    if job.status in (ReportStatus.COMPLETED, ReportStatus.FAILED):
        return JobStep("done")
    if job.step_open and job.report_run_id:
        runs.count_report_jobs(sub.run_id, "resumed")
    ReportRun.objects(pk=job.pk).update(set__step_open=1, set__updated_at=utcnow())
    try:
        return _advance(JobScope(ctx, client, connection, sub, job, on_page))
    finally:
        ReportRun.objects(pk=job.pk).update(set__step_open=0)


def _advance(step: JobScope) -> JobStep:
    ctx, client, sub, job = step.ctx, step.client, step.sub, step.job
    settings, now = ctx.settings, utcnow()
    # polls cost calls from the connection's hourly budget: back off 5 s, 10 s, 20 s ... 2 min
    poll = JobStep(
        "poll", min(MAX_POLL_SECONDS, settings.META_REPORT_POLL_SECONDS * 2.0 ** min(job.polls, 6))
    )
    if job.status == ReportStatus.PENDING or not job.report_run_id:
        report_run_id = start_report(client, sub.account_id, job.params)
        ReportRun.objects(pk=job.pk).update(
            set__report_run_id=report_run_id,
            set__status=ReportStatus.RUNNING,
            inc__attempts=1,
            set__running_at_100_since=None,
            set__results_after=None,
            set__created_at=now,
        )
        runs.count_report_jobs(sub.run_id, "started")
        return poll
    status = report_status(client, job.report_run_id, account_id=sub.account_id)
    ReportRun.objects(pk=job.pk).update(
        set__async_status=status.state.value, set__percent=status.percent, inc__polls=1
    )
    if status.not_visible_yet:
        return poll
    if status.completed:
        return _page_results(step)
    stuck_since = job.running_at_100_since
    if status.stuck_candidate and stuck_since is None:
        ReportRun.objects(pk=job.pk).update(set__running_at_100_since=now)
    stuck = (
        stuck_since is not None
        and status.stuck_candidate
        and (now - stuck_since > timedelta(seconds=settings.META_REPORT_STUCK_SECONDS))
    )
    too_old = job.created_at is not None and now - job.created_at > JOB_MAX_AGE
    if not (status.failed or stuck or too_old):
        return poll
    ReportRun.objects(pk=job.pk).update(
        set__error_code=status.error_code,
        set__error_message=status.error_message
        or f"job ended {status.state.value} at {status.percent} %",
    )
    if job.attempts < JOB_STARTS_BEFORE_SPLIT:
        ReportRun.objects(pk=job.pk).update(
            set__status=ReportStatus.PENDING, set__report_run_id=None
        )
        return JobStep("poll", 1.0)
    return _split(step)


def _page_results(step: JobScope) -> JobStep:
    ctx, client, connection, sub, job, on_page = step.unpack()
    account = AdAccount.objects(
        tenant_id=connection.tenant_id, meta_id=f"act_{sub.account_id}"
    ).first()
    after = job.results_after
    results = report_results(
        client, job.report_run_id, account_id=sub.account_id, limit=INSIGHTS_PAGE_SIZE, after=after
    )
    for pages, page in enumerate(results, start=1):
        written = _write_rows(ctx, connection, account, sub.account_id, job.level, page.items)
        on_page(f"{job.report_run_id}:{after or '-'}", {job.level: written})
        after = page.after
        ReportRun.objects(pk=job.pk).update(set__results_after=after)
        if after is None:
            break
        if pages >= PAGES_PER_TASK:
            return JobStep("poll", 0.0)  # more pages: continue in a fresh task
    if results.stopped_early:
        raise IncompleteListing(results.stopped_early)
    ReportRun.objects(pk=job.pk).update(
        set__status=ReportStatus.COMPLETED, set__updated_at=utcnow()
    )
    return JobStep("done")


def _split(step: JobScope) -> JobStep:
    """Replace a job that keeps failing by two smaller ones (campaign halves, else range
    halves); a range short enough to read synchronously is read so, in this step."""
    ctx, sub, job = step.ctx, step.sub, step.job
    params: dict[str, Any] = dict(job.params)
    since = date.fromisoformat(params["time_range"]["since"])
    until = date.fromisoformat(params["time_range"]["until"])
    short = (until - since).days + 1 <= ctx.settings.META_INSIGHTS_SYNC_MAX_DAYS
    parts: list[dict[str, Any]] = []
    campaign_ids = _campaign_filter(params)
    if job.level != "account":
        if campaign_ids is None:
            campaign_ids = sorted(
                c.meta_id
                for c in Campaign.objects(tenant_id=job.tenant_id, account_id=job.account_id).only(
                    "meta_id"
                )
            )
        if len(campaign_ids) >= 2:
            middle = len(campaign_ids) // 2
            for half in (campaign_ids[:middle], campaign_ids[middle:]):
                rules = [
                    r for r in params.get("filtering") or [] if r.get("field") != "campaign.id"
                ]
                parts.append(
                    {
                        **params,
                        "filtering": [
                            *rules,
                            {"field": "campaign.id", "operator": "IN", "value": half},
                        ],
                    }
                )
    if not parts and short:
        return _read_synchronously(step)
    if not parts and since < until:
        middle_day = since + timedelta(days=(until - since).days // 2)
        for first, last in ((since, middle_day), (middle_day + timedelta(days=1), until)):
            parts.append(
                {**params, "time_range": {"since": first.isoformat(), "until": last.isoformat()}}
            )
    if not parts:
        return _read_synchronously(step)
    children = []
    for number, part in enumerate(parts):
        key = f"{job.job_key}/{number}"
        with contextlib.suppress(NotUniqueError):
            ReportRun(
                job_key=key,
                sync_run_id=job.sync_run_id,
                connection_id=job.connection_id,
                tenant_id=job.tenant_id,
                account_id=job.account_id,
                level=job.level,
                params=part,
                parent_job_key=job.job_key,
            ).save()
        children.append(ReportRun.objects.get(job_key=key))
    follow_ups = [_child_subtask(sub, child) for child in children]
    ReportRun.objects(pk=job.pk).update(
        set__status=ReportStatus.SPLIT, set__children=[child.job_key for child in children]
    )
    runs.count_report_jobs(sub.run_id, "split")
    return JobStep("done", follow_ups=follow_ups)


def _child_subtask(sub: Subtask, child: ReportRun) -> Subtask:
    """The subtask that runs ``child``, one part of the job ``sub`` split."""
    child_range = child.params["time_range"]
    return Subtask(
        sub.run_id,
        sub.connection_id,
        sub.account_id,
        sub.edge,
        since=child_range["since"],
        until=child_range["until"],
        job_key=child.job_key,
    )


def _read_synchronously(step: JobScope) -> JobStep:
    """The last resort for a small job Meta keeps failing: read its rows synchronously.

    A synchronous read Meta times out here ends the subtask with that (typed) error.
    """
    ctx, client, connection, sub, job, on_page = step.unpack()
    account = AdAccount.objects(
        tenant_id=connection.tenant_id, meta_id=f"act_{sub.account_id}"
    ).first()
    for number, page in enumerate(
        read_insights(
            client,
            f"act_{sub.account_id}",
            job.params,
            account_id=sub.account_id,
            limit=INSIGHTS_PAGE_SIZE,
        ),
        start=1,
    ):
        written = _write_rows(ctx, connection, account, sub.account_id, job.level, page.items)
        on_page(f"sync:{number}", {job.level: written})
    ReportRun.objects(pk=job.pk).update(
        set__status=ReportStatus.COMPLETED, set__updated_at=utcnow()
    )
    runs.count_report_jobs(sub.run_id, "read_synchronously")
    return JobStep("done")


def _campaign_filter(params: dict[str, Any]) -> list[str] | None:
    for rule in params.get("filtering") or []:
        if rule.get("field") == "campaign.id":
            return sorted(str(v) for v in rule.get("value") or [])
    return None


def refresh_entity_insights(
    ctx: SyncContext,
    connection: MetaConnection,
    object_id: str,
    level: str,
    account_id: str,
    since: date,
    until: date,
) -> int:
    """Re-read one campaign's, ad set's or ad's daily rows for a range (webhooks, CLI).

    Returns the rows written. Errors propagate (typed): the caller decides what to record.
    """
    client = ctx.client_for(connection)
    account = AdAccount.objects(tenant_id=connection.tenant_id, meta_id=f"act_{account_id}").first()
    params = insights_params(level=level, since=since.isoformat(), until=until.isoformat())
    written = 0
    for page in read_insights(
        client, object_id, params, account_id=account_id, limit=INSIGHTS_PAGE_SIZE
    ):
        written += _write_rows(ctx, connection, account, account_id, level, page.items)
    return written
