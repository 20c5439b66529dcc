"""The base class of every metasync task: the delivery options they share, stated once.

- ``acks_late`` + ``reject_on_worker_lost``: a task whose worker dies is delivered again, so every
  task is written to be safe to run twice.
- ``autoretry_for`` lists only transient failures (5xx, timeouts, resets, MongoDB or Redis
  briefly away);
  token, permission and invalid-request errors are never retried.
- Exponential ``retry_backoff`` with jitter, capped at 10 minutes, at most 8 times.
- Time limits well below the broker's visibility timeout (celeryconfig).
"""

from __future__ import annotations

import redis
from celery import Task
from pymongo.errors import ConnectionFailure

from metasync.graph import RateGovernorUnavailable, TransientError

__all__ = ["TRANSIENT", "MetaSyncTask"]

# Meta's transient errors, and brief outages of our own stores: a MongoDB or Redis restart must
# delay a task, not fail it (a failed subtask would leave its run open).
TRANSIENT = (
    TransientError,
    RateGovernorUnavailable,
    ConnectionFailure,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class MetaSyncTask(Task):  # type: ignore[misc]
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT
    retry_backoff = True
    retry_backoff_max = 600  # seconds
    retry_jitter = True
    max_retries = 8
    time_limit = 600  # seconds
    soft_time_limit = 540

    @property
    def final_attempt(self) -> bool:
        """True on the last try Celery's autoretry would make."""
        return bool(self.request.retries >= (self.max_retries or 0))
