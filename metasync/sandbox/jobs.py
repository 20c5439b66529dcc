"""Async insights report jobs: they progress through Meta's statuses over (real) time.

A job's fate (complete, fail, skip, stuck at 100 % "Job Running") is drawn from the fault profile
when it starts. Its rows are computed when it completes and kept, so paging its results is stable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from metasync.sandbox.faults import FaultProfile
from metasync.sandbox.versions import version_number

__all__ = ["FAILURES", "ReportJob", "ReportJobs"]

# What a failed job carries from v25.0 on (Marketing API changelog, v25.0: ``error_code``,
# ``error_message``, ``error_subcode``, ``error_user_title``, ``error_user_msg``), by code.
FAILURES: dict[int, dict[str, Any]] = {
    1: {
        "error_code": 1,
        "error_subcode": 1487534,
        "error_message": "Please reduce the amount of data you're asking for, then retry your "
        "request",
        "error_user_title": "Too much data",
        "error_user_msg": "The report asks for too many rows. Ask for a shorter range or fewer "
        "objects.",
    },
    2: {
        "error_code": 2,
        "error_subcode": 1504044,
        "error_message": "Service temporarily unavailable",
        "error_user_title": "Temporary problem",
        "error_user_msg": "The report could not be produced this time. Please try again.",
    },
    100: {
        "error_code": 100,
        "error_subcode": 1487851,
        "error_message": "Invalid parameter: the report's breakdowns are no longer supported",
        "error_user_title": "Report cannot be produced",
        "error_user_msg": "This combination of breakdowns and fields cannot be reported.",
    },
}


@dataclass
class ReportJob:
    id: str
    account_id: str
    level: str
    first: date
    last: date
    params: dict[str, Any]
    started: float
    seconds: float
    fate: str  # complete | fail | skip | stuck
    visible_after: float
    fail_code: int = 1  # which of FAILURES a failed job reports
    rows: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def percent(self, now: float) -> int:
        if self.seconds <= 0:
            return 100
        return min(100, int((now - self.started) / self.seconds * 100))

    def state(self, now: float) -> str:
        percent = self.percent(now)
        if percent < 100:
            return (
                "Job Not Started"
                if percent == 0
                else ("Job Started" if percent < 10 else "Job Running")
            )
        return {
            "complete": "Job Completed",
            "fail": "Job Failed",
            "skip": "Job Skipped",
            "stuck": "Job Running",
        }[self.fate]


class ReportJobs:
    def __init__(self, new_id: Callable[[], str], clock: Callable[[], float] = time.monotonic):
        self._new_id = new_id
        self.clock = clock
        self.jobs: dict[str, ReportJob] = {}

    def start(
        self,
        account_id: str,
        level: str,
        first: date,
        last: date,
        params: dict[str, Any],
        faults: FaultProfile,
    ) -> ReportJob:
        fate = (
            "fail"
            if faults.chance(faults.job_fail_rate)
            else "skip"
            if faults.chance(faults.job_skip_rate)
            else "stuck"
            if faults.chance(faults.job_stuck_rate)
            else "complete"
        )
        now = self.clock()
        job = ReportJob(
            self._new_id(),
            account_id,
            level,
            first,
            last,
            params,
            now,
            faults.job_seconds,
            fate,
            (
                float("inf")  # (100, 33) forever: the job is never readable
                if faults.chance(faults.job_never_visible_rate)
                else now + faults.job_visibility_seconds
            ),
            fail_code=faults.job_fail_code,
        )
        self.jobs[job.id] = job
        return job

    def status(self, job: ReportJob, version: str = "") -> dict[str, Any]:
        """``GET /{report_run_id}``. The error fields of a failed job exist from v25.0 on
        (Marketing API changelog, v25.0); older versions answer without them."""
        now = self.clock()
        state = job.state(now)
        body: dict[str, Any] = {
            "id": job.id,
            "account_id": job.account_id,
            "async_status": state,
            "async_percent_completion": job.percent(now),
            "date_start": job.first.isoformat(),
            "date_stop": job.last.isoformat(),
            "time_ref": int(time.time()),
        }
        if state == "Job Failed" and (version_number(version) or (0,)) >= (25,):
            body.update(FAILURES[job.fail_code])
        return body
