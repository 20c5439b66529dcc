"""Run bookkeeping: ``SyncRun`` (statistics of one sync) and ``ReportRun`` (an async insights job).

Counters on a ``SyncRun`` are only ever changed with atomic ``$inc`` updates, added when a
subtask finishes (once per subtask, see :mod:`metasync.sync.account.runs`), so a subtask that
runs twice counts once. The document holds only the subtasks in flight: its size does not grow
with the run's pages or finished subtasks.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    FloatField,
    IntField,
    ListField,
    LongField,
    StringField,
)

from metasync.models.base import BASE_META, utcnow

__all__ = ["QueuedSubtask", "ReportRun", "ReportStatus", "RunPlan", "RunStatus", "SyncRun"]


class RunStatus:
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # finished, but some accounts or subtasks failed
    FAILED = "failed"
    SKIPPED = "skipped"  # another run of the same connection held the lock
    ALL = (RUNNING, SUCCEEDED, PARTIAL, FAILED, SKIPPED)
    TERMINAL = (SUCCEEDED, PARTIAL, FAILED, SKIPPED)


class SyncRun(Document):  # type: ignore[misc]
    """Statistics of one sync of one connection. ``pending`` counts subtasks not yet finished."""

    connection_id = StringField(required=True)
    tenant_id = StringField(required=True)
    kind = StringField(required=True, choices=("entities", "performance", "webhook"))
    trigger = StringField(default="schedule")  # schedule | cli | webhook | demo
    full = IntField(default=0)  # 1 when this run reconciles (tombstones) instead of incremental
    status = StringField(choices=RunStatus.ALL, default=RunStatus.RUNNING)
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField()
    duration_ms = LongField()
    pending = IntField(default=0)  # subtasks queued (not yet released) or in flight
    in_flight = IntField(default=0)  # entries of ``inflight``: about the run's window
    queued = IntField(default=0)  # subtasks planned into ``queued_subtasks``
    released = IntField(default=0)  # of those, how many moved into ``inflight`` (in order)
    entities = DictField()  # type name -> objects written
    rows = DictField()  # insights level or report -> rows written
    reconciliation = DictField()  # performance runs: ok / mismatch / missing -> account-days
    pages = IntField(default=0)
    api_calls = IntField(default=0)
    retries = IntField(default=0)
    throttled_seconds = FloatField(default=0.0)
    report_jobs = DictField()  # started / resumed / split -> count
    errors = ListField(DictField())
    tombstoned = DictField()  # type name -> objects marked deleted_at by this (full) run
    since = DateTimeField()  # incremental runs read objects updated after this
    request_id = StringField()  # the task (or CLI call) that opened the run; resumes it
    period = DictField()  # performance runs: kind (initial|lookback|recent|explicit), levels
    failed = IntField(default=0)  # subtasks that ended in an error
    # the outbox: slot of each subtask in flight -> its task arguments, key and parent ("start"
    # or the subtask that handed it off), so a redelivered parent queues the same follow-ups
    # again and a stalled run's subtasks can be queued again (metasync.sync.recovery)
    inflight = DictField()
    planned = IntField(default=0)  # 1 once the start recorded its subtasks
    subtasks_total = IntField(default=0)  # subtasks ever put in flight
    subtasks_done = IntField(default=0)
    progress_at = DateTimeField(default=utcnow)  # the last time a subtask moved the run on
    wait_until = DateTimeField()  # the latest end of a countdown a subtask asked for
    recovered = IntField(default=0)  # subtasks queued again after the run stalled

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "sync_runs",
        "indexes": [
            {"fields": ["connection_id", "-started_at"]},
            {"fields": ["started_at"]},  # /metrics: the runs of the last 24 hours
            {"fields": ["status"]},
            {"fields": ["request_id"], "sparse": True},
        ],
    }


class ReportStatus:
    PENDING = "pending"  # not yet started on Meta
    RUNNING = "running"
    COMPLETED = "completed"  # results fetched and stored
    FAILED = "failed"
    SPLIT = "split"  # replaced by smaller jobs (see children)
    ALL = (PENDING, RUNNING, COMPLETED, FAILED, SPLIT)


class ReportRun(Document):  # type: ignore[misc]
    """State of one async insights report job, so a crashed worker resumes the same job.

    ``job_key`` names the logical job (run, account, level, range, part) and is unique: a task
    that runs again finds the report run id its predecessor started instead of starting another.
    """

    job_key = StringField(required=True)
    sync_run_id = StringField()
    connection_id = StringField(required=True)
    tenant_id = StringField(required=True)
    account_id = StringField(required=True)
    report_run_id = StringField()
    params = DictField()
    status = StringField(choices=ReportStatus.ALL, default=ReportStatus.PENDING)
    async_status = StringField()
    percent = IntField(default=0)
    attempts = IntField(default=0)
    parent_job_key = StringField()
    children = ListField(StringField())
    error_code = IntField()
    error_message = StringField()
    error_subcode = IntField()  # v25+: what Meta says about a failed job
    error_user_title = StringField()
    error_user_msg = StringField()
    running_at_100_since = DateTimeField()
    level = StringField()
    step_open = IntField(default=0)  # 1 while a task works on the job: a crash leaves it at 1
    results_after = StringField()  # cursor of the results already written
    mode = StringField(default="async")  # async | sync (a small job read synchronously)
    written = DictField()  # level or report -> rows written by this attempt's result pages
    reach_throttle_pct = IntField()  # Meta's x-fb-ads-insights-reach-throttle, when sent
    pages = IntField(default=0)
    polls = IntField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "report_runs",
        "indexes": [
            {"fields": ["job_key"], "unique": True},
            {"fields": ["report_run_id"], "sparse": True},
            {"fields": ["sync_run_id"]},
        ],
    }


class QueuedSubtask(Document):  # type: ignore[misc]
    """A planned subtask of a run, in release order (``seq``: recent days of every account
    first, then backfill and lookback ranges). The run's ``released`` counter says how many
    of them have moved into its ``inflight`` outbox; they are deleted when the run closes."""

    run_id = StringField(required=True)
    seq = LongField(required=True)
    arguments = DictField()
    created_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "queued_subtasks",
        "indexes": [{"fields": ["run_id", "seq"], "unique": True}],
    }


class RunPlan(Document):  # type: ignore[misc]
    """The ad accounts a run planned, and how (read in full, which period), and at its close
    each account's outcome. Kept beside the run rather than in it: every subtask reads and
    updates the run's document, which thus stays the same small size for 10 accounts or
    1,000 (``python -m bench.scale`` reports the largest)."""

    run_id = StringField(required=True)
    accounts = ListField(StringField())
    full_accounts = ListField(StringField())  # entity runs: accounts reconciled in full
    period_kinds = DictField()  # performance runs: initial|lookback|recent|explicit -> accounts
    account_outcomes = DictField()  # succeeded | failed -> accounts, set when the run closes
    ranges = DictField()  # performance runs: account -> [since, until] of its daily rows
    created_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "run_plans",
        "indexes": [{"fields": ["run_id"], "unique": True}],
    }

    @classmethod
    def of(cls, run_id: object) -> RunPlan:
        """The plan of ``run_id`` (an empty one when the run planned nothing yet)."""
        found: RunPlan | None = cls.objects(run_id=str(run_id)).first()
        return found if found is not None else cls(run_id=str(run_id))

    @classmethod
    def record(cls, run_id: object, **values: object) -> None:
        """Set fields of the run's plan (created on first use)."""
        cls.objects(run_id=str(run_id)).update_one(
            upsert=True, **{f"set__{name}": value for name, value in values.items()}
        )
