"""What to do about a failed async report job, by what Meta says about it.

From v25.0 a failed report run carries ``error_code``, ``error_message``, ``error_subcode``,
``error_user_title`` and ``error_user_msg`` (Marketing API changelog, v25.0). They are read as
Meta's error bodies are (:func:`metasync.graph.errors.error_from_response`) and decide:

- ``split``: Meta asks for less data (code 1, "reduce the amount of data"): starting the same
  job again would fail again, so it is split at once;
- ``give_up``: the job can never succeed as asked (an invalid parameter, a permission or token
  problem): it is not started again; the run records Meta's error and user message;
- ``retry``: anything transient, throttling, or a failure without error fields (older versions,
  skipped or stuck jobs): started once more, then split (the behaviour before v25).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from metasync.graph import ReportJobStatus
from metasync.graph.errors import (
    InvalidRequestError,
    MetaAPIError,
    PermissionDeniedError,
    ReduceDataError,
    TokenError,
    error_from_response,
)
from metasync.models import ReportRun, ReportStatus

__all__ = [
    "FailureDecision",
    "decide_failure",
    "meta_error",
    "record_failure",
    "recorded_error",
]

Action = Literal["retry", "split", "give_up"]


@dataclass(frozen=True)
class FailureDecision:
    action: Action
    error: MetaAPIError | None  # Meta's error as a typed exception, when the job carried one


def meta_error(
    code: int | None,
    subcode: int | None,
    message: str | None,
    user_title: str | None,
    user_msg: str | None,
) -> MetaAPIError:
    """A failed job's fields as the typed error Meta's error body with them would be."""
    return error_from_response(
        400,
        {
            "error": {
                "code": code,
                "error_subcode": subcode,
                "message": message or f"report job failed ({code})",
                "error_user_title": user_title,
                "error_user_msg": user_msg,
            }
        },
    )


def decide_failure(status: ReportJobStatus) -> FailureDecision:
    """The decision for a failed, skipped or stuck job's last status."""
    if status.error_code is None:
        return FailureDecision("retry", None)
    error = meta_error(
        status.error_code,
        status.error_subcode,
        status.error_message,
        status.error_user_title,
        status.error_user_msg,
    )
    if isinstance(error, ReduceDataError):
        return FailureDecision("split", error)
    if isinstance(error, TokenError | PermissionDeniedError | InvalidRequestError):
        return FailureDecision("give_up", error)
    return FailureDecision("retry", error)


def record_failure(job: ReportRun, status: ReportJobStatus, *, give_up: bool) -> None:
    """Meta's account of a failed job (v25+) on the job, where an operator looks; a job given
    up is marked FAILED in the same write (the caller counts it on its run), so a worker that
    dies right after still has the run record the error (:func:`recorded_error`)."""
    extra = {"set__status": ReportStatus.FAILED} if give_up else {}
    ReportRun.objects(pk=job.pk).update(
        **extra,
        set__error_code=status.error_code,
        set__error_subcode=status.error_subcode,
        set__error_message=status.error_message,
        set__error_user_title=status.error_user_title,
        set__error_user_msg=status.error_user_msg,
    )


def recorded_error(job: ReportRun) -> MetaAPIError:
    """The error a job given up was recorded with (:func:`record_failure`)."""
    return meta_error(
        job.error_code,
        job.error_subcode,
        job.error_message,
        job.error_user_title,
        job.error_user_msg,
    )
