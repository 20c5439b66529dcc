"""Async insights report jobs, one short step per task: start, poll, page results, split.

A job's state lives in ``ReportRun``, so any worker can take the next step:

- a step never sleeps: ``poll`` asks to be run again after a countdown that doubles from
  ``META_REPORT_POLL_SECONDS`` up to 2 minutes (every poll is a call from the account's budget).
  The worker sends each poll and each continuation as a fresh task message (never a Celery
  retry, whose count would make the ninth poll's transient error final); ``polls`` on the
  ``ReportRun`` counts them;
- limits come before the poll: a job older than an hour, or one Meta has not shown for
  ``META_REPORT_INVISIBLE_SECONDS`` (it keeps answering (100, 33)), is not polled again;
- a worker that dies during a step leaves ``step_open`` set; the next step resumes the same
  report run id and counts a resume;
- a failed job's v25 error fields decide (:mod:`metasync.sync.read.job_failures`): "too much data"
  splits at once, an invalid or forbidden request gives up with Meta's error, the rest (and a
  skipped, stuck (100 % "Job Running" past ``META_REPORT_STUCK_SECONDS``), too old or invisible
  job) is started once more, then split: by halves of the campaigns Meta says have data in the
  range (a campaign-level read; the mirror only if that read fails) for campaign, ad set and ad
  levels, else by halving the range; a job too small to split is read synchronously, a few
  pages per step, so a run ends complete even when Meta keeps failing jobs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from mongoengine.errors import NotUniqueError

from metasync.graph import (
    GraphClient,
    Listing,
    read_insights,
    report_results,
    report_status,
    start_report,
)
from metasync.models import MetaConnection, ReportRun, ReportStatus, utcnow
from metasync.sync.context import SyncContext
from metasync.sync.opt_in import record_job_answer
from metasync.sync.read.insights import INSIGHTS_PAGE_SIZE, PAGES_PER_TASK, InsightPageWriter
from metasync.sync.read.job_campaigns import campaign_filter, campaigns_with_data
from metasync.sync.read.job_failures import decide_failure, record_failure, recorded_error
from metasync.sync.shapes.targets import ReadTarget
from metasync.sync.subtasks import IncompleteListing, Subtask

__all__ = ["JobCounter", "JobStep", "report_step"]

log = logging.getLogger(__name__)

JOB_MAX_AGE = timedelta(hours=1)
JOB_STARTS_BEFORE_SPLIT = 2
MAX_POLL_SECONDS = 120.0

JobCounter = Callable[[str], None]
"""Counts a job event on its run (started | resumed | split | given_up | read_synchronously),
when it happens: the bookkeeping is the account stage's, passed in by the pipeline."""


@dataclass
class JobStep:
    """``poll`` after ``countdown`` seconds, or ``done`` (with follow-ups when it was split, and
    what the job wrote over all its steps when it completed)."""

    status: str
    countdown: float = 0.0
    follow_ups: list[Subtask] = field(default_factory=list)
    written: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class JobScope:
    """Everything one step of a report job works with."""

    ctx: SyncContext
    client: GraphClient
    connection: MetaConnection
    sub: Subtask
    job: ReportRun
    target: ReadTarget  # what the job reads (looked up once)
    write_page: InsightPageWriter  # how a page of its rows is written
    count: JobCounter


def _job(sub: Subtask, connection: MetaConnection, target: ReadTarget) -> ReportRun:
    existing: ReportRun | None = ReportRun.objects(job_key=sub.job_key).first()
    if existing is not None:
        return existing
    with contextlib.suppress(NotUniqueError):  # a twin task created it a moment ago
        ReportRun(
            job_key=sub.job_key,
            sync_run_id=sub.run_id,
            connection_id=sub.connection_id,
            tenant_id=connection.tenant_id,
            account_id=sub.account_id,
            level=target.level,
            params=target.params(sub.since or "", sub.until or ""),
        ).save()
    created: ReportRun = ReportRun.objects.get(job_key=sub.job_key)
    return created


def report_step(
    ctx: SyncContext,
    client: GraphClient,
    connection: MetaConnection,
    sub: Subtask,
    *,
    target: ReadTarget,
    write_page: InsightPageWriter,
    count: JobCounter,
) -> JobStep:
    """Advance the report job of ``target``'s read by one step, writing its pages with
    ``write_page`` and counting its events with ``count``. Never sleeps: ``poll`` asks to be run
    again."""
    job = _job(sub, connection, target)
    if job.status == ReportStatus.SPLIT:  # split by an attempt that died before handing off
        children = ReportRun.objects(job_key__in=job.children).order_by("job_key")
        return JobStep("done", follow_ups=[_child_subtask(sub, child) for child in children])
    if job.status == ReportStatus.FAILED:  # given up: said again if the last worker died first
        raise recorded_error(job)
    if job.status == ReportStatus.COMPLETED:
        return _done(job)
    if job.step_open and job.report_run_id:
        count("resumed")
    ReportRun.objects(pk=job.pk).update(set__step_open=1, set__updated_at=utcnow())
    try:
        return _advance(JobScope(ctx, client, connection, sub, job, target, write_page, count))
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
        report_run_id = start_report(
            client,
            sub.account_id,
            job.params,
            on_reach_throttle=lambda pct: _reach_throttled(job, pct),
        )
        ReportRun.objects(pk=job.pk).update(
            set__report_run_id=report_run_id,
            set__status=ReportStatus.RUNNING,
            inc__attempts=1,
            set__running_at_100_since=None,
            set__results_after=None,
            set__written={},
            set__pages=0,
            set__created_at=now,
        )
        step.count("started")
        return poll
    if job.mode == "sync":  # reading a small job's rows synchronously, a few pages a step
        return _read_synchronously(step)
    created = job.created_at or now
    if now - created > JOB_MAX_AGE:  # checked first: an old job is not polled again
        return _give_up(step, "the job is older than an hour")
    status = report_status(client, job.report_run_id, account_id=sub.account_id)
    ReportRun.objects(pk=job.pk).update(
        set__async_status=status.state.value, set__percent=status.percent, inc__polls=1
    )
    if status.not_visible_yet:
        invisible_for = (now - created).total_seconds()
        if invisible_for > settings.META_REPORT_INVISIBLE_SECONDS:
            return _give_up(step, f"Meta has not shown the job for {invisible_for:.0f} s (100, 33)")
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
    if not (status.failed or stuck):
        return poll
    decision = decide_failure(status)
    record_failure(job, status, give_up=decision.action == "give_up")
    if decision.action == "give_up":
        step.count("given_up")
    if decision.action == "give_up" and decision.error is not None:
        raise decision.error
    if decision.action == "split":
        return _split(step)
    return _give_up(
        step,
        status.error_message or f"job ended {status.state.value} at {status.percent} %",
        status.error_code,
    )


def _reach_throttled(job: ReportRun, percent: int) -> None:
    """Keep Meta's reach-throttle percentage on the job; at 100 % Meta's jobs omit reach for
    old breakdown reads until tomorrow: say so where an operator looks."""
    ReportRun.objects(pk=job.pk).update(set__reach_throttle_pct=percent)
    if percent >= 100:
        log.warning(
            "account %s: Meta's 10 daily reach jobs for old breakdown reads are used up; "
            "job %s gets no reach",
            job.account_id,
            job.job_key,
            extra={"run_id": job.sync_run_id},
        )


def _page_written(job: ReportRun, after: str | None, written: dict[str, int]) -> None:
    """One page of results written: its cursor and counts on the job, in one update."""
    ReportRun.objects(pk=job.pk).update(
        set__results_after=after,
        inc__pages=1,
        **{f"inc__written__{label}": rows for label, rows in written.items()},
    )


def _done(job: ReportRun) -> JobStep:
    """The job is done: what it wrote over all its steps, for its run."""
    job.reload("written", "pages", "level")
    written = {f"rows.{level}": rows for level, rows in (job.written or {}).items()}
    return JobStep("done", written={**written, "pages": job.pages or 0} if job.pages else {})


def _give_up(step: JobScope, why: str, code: int | None = None) -> JobStep:
    """Start the job once more, then split it (see the module's docstring)."""
    job = step.job
    ReportRun.objects(pk=job.pk).update(set__error_code=code, set__error_message=why)
    if job.attempts < JOB_STARTS_BEFORE_SPLIT:
        ReportRun.objects(pk=job.pk).update(
            set__status=ReportStatus.PENDING, set__report_run_id=None
        )
        return JobStep("poll", 1.0)
    return _split(step)


def _page_results(step: JobScope) -> JobStep:
    client, sub, job = step.client, step.sub, step.job
    after = job.results_after
    results = report_results(
        client, job.report_run_id, account_id=sub.account_id, limit=INSIGHTS_PAGE_SIZE, after=after
    )
    return _write_pages(step, results)


def _write_pages(step: JobScope, listing: Listing) -> JobStep:
    """Write up to ``PAGES_PER_TASK`` pages of ``listing`` (results or a synchronous read),
    keeping the cursor and counts on the job; ``poll`` 0 continues in a fresh task, and the last
    page completes the job."""
    connection, job = step.connection, step.job
    for number, page in enumerate(listing, start=1):
        written = step.write_page(page.items)
        _page_written(job, page.after, written)
        if page.after is None:
            break
        if number >= PAGES_PER_TASK:
            return JobStep("poll", 0.0)  # more pages: continue in a fresh task
    if listing.stopped_early:
        raise IncompleteListing(listing.stopped_early)
    ReportRun.objects(pk=job.pk).update(
        set__status=ReportStatus.COMPLETED, set__updated_at=utcnow()
    )
    done = _done(job)  # loads what the job wrote
    record_job_answer(step.client, connection.tenant_id, step.target.reports, job)
    return done


def _split(step: JobScope) -> JobStep:
    """Replace a job that keeps failing by two smaller ones (campaign halves, else range
    halves); a range short enough to read synchronously is read so, in this step."""
    ctx, sub, job = step.ctx, step.sub, step.job
    params: dict[str, Any] = dict(job.params)
    since = date.fromisoformat(params["time_range"]["since"])
    until = date.fromisoformat(params["time_range"]["until"])
    short = (until - since).days + 1 <= ctx.settings.META_INSIGHTS_SYNC_MAX_DAYS
    parts: list[dict[str, Any]] = []
    campaign_ids = campaign_filter(params)
    if job.level != "account":
        if campaign_ids is None:
            campaign_ids = campaigns_with_data(step.client, step.job, params)
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
    # a range halved keeps weeks and months whole only for daily rows: others read it whole
    daily = step.target.time_increment == "1"
    if not parts and since < until and daily:
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
    step.count("split")
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
    """The last resort for a small job Meta keeps failing: read its rows synchronously, at most
    ``PAGES_PER_TASK`` pages a step (the cursor is kept on the job; ``poll`` 0 continues).

    A synchronous read Meta times out here ends the subtask with that (typed) error.
    """
    client, sub, job = step.client, step.sub, step.job
    if job.mode != "sync":
        ReportRun.objects(pk=job.pk).update(set__mode="sync", set__results_after=None)
        step.count("read_synchronously")
    after = job.results_after if job.mode == "sync" else None
    listing = read_insights(
        client,
        f"act_{sub.account_id}",
        job.params,
        account_id=sub.account_id,
        limit=INSIGHTS_PAGE_SIZE,
        after=after,
    )
    return _write_pages(step, listing)
