"""The sandbox's fault profile: what goes wrong, how often. Set at start or at run time.

Rates are probabilities per request (0-1). Faults apply to Graph API paths only, never to the
control API. ``seed`` makes a profile's coin flips repeatable for a given order of requests.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["JOB_FAIL_CODES", "FaultProfile"]


# the failures a failed report job can report (v25 error fields; see jobs.FAILURES)
JOB_FAIL_CODES = (1, 2, 100)


@dataclass
class FaultProfile:
    latency_ms: float = 0.0  # added to every answer
    jitter_ms: float = 0.0  # plus uniform(0, jitter)
    error_5xx_rate: float = 0.0  # HTTP 500 with code 1 "unknown error"
    code2_rate: float = 0.0  # HTTP 503 with code 2 "service temporarily unavailable"
    slow_rate: float = 0.0  # answers delayed by slow_ms
    slow_ms: float = 3000.0
    reduce_data_above: int | None = None  # limit above which code 1 "reduce the amount of data"
    empty_page_rate: float = 0.0  # an empty page that still carries paging.next
    batch_null_rate: float = 0.0  # a batch item answered with null
    job_seconds: float = 2.0  # how long an async report job takes
    job_fail_rate: float = 0.0  # "Job Failed"
    job_fail_code: int = 1  # what a failed job says (v25): one of JOB_FAIL_CODES
    job_skip_rate: float = 0.0  # "Job Skipped"
    job_stuck_rate: float = 0.0  # "Job Running" at 100 % forever
    job_visibility_seconds: float = 0.0  # (100, 33) on status right after the job started
    job_never_visible_rate: float = 0.0  # a job whose status answers (100, 33) forever
    repeat_cursor_rate: float = 0.0  # a page whose paging.next repeats the cursor it was read at
    short_page_rate: float = 0.0  # a page shorter than limit in the middle of a listing
    token_expire_after_calls: int | None = None  # every user token expires after N calls
    sync_timeout_days: int | None = None  # sync insights over more days: (2, 1504038)
    # "<account id>:<YYYY-MM-DD>": that day's account-level row disagrees with its ads'
    corrupt_account_days: list[str] = field(default_factory=list)
    # writes (POST /{id}) that go wrong, each {"id", "kind", "times" (default 1), "skip"
    # (writes of the id that pass first, default 0), "ms"}: kind
    # "error" (500, code 1, nothing written), "invalid" (400, code 100, nothing written),
    # "permission" (403, code 200, nothing written: the person may not manage this object),
    # "lost" (written, then a 500: the answer is lost on its way), "slow" (written after ms)
    write_faults: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.job_fail_code not in JOB_FAIL_CODES:
            raise ValueError(
                f"job_fail_code {self.job_fail_code!r} is not one of "
                f"{', '.join(map(str, JOB_FAIL_CODES))} (too much data, temporary, invalid)"
            )
        self._rng = random.Random(self.seed)

    def chance(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def delay_seconds(self) -> float:
        delay = self.latency_ms + (self._rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0)
        if self.chance(self.slow_rate):
            delay += self.slow_ms
        return delay / 1000.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultProfile:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        return cls(**data)

    def take_write_fault(self, object_id: str) -> dict[str, Any] | None:
        """The next fault planned for a write of ``object_id`` (used up as it is taken)."""
        for planned in self.write_faults:
            if str(planned.get("id")) != object_id or int(planned.get("times", 1)) <= 0:
                continue
            if int(planned.get("skip", 0)) > 0:
                planned["skip"] = int(planned["skip"]) - 1
                return None
            planned["times"] = int(planned.get("times", 1)) - 1
            return planned
        return None

    def merged(self, changes: dict[str, Any]) -> FaultProfile:
        return FaultProfile.from_dict({**self.as_dict(), **changes})
