"""Insights reads: synchronous, and async report jobs as three separate calls.

The async job is split into :func:`start_report`, :func:`report_status` and
:func:`report_results` so a Celery task can start a job, store its id, and poll it by
re-scheduling itself with a countdown, never sleeping. A job can sit at 100 % while still
"Job Running": only ``Job Completed`` means the results can be read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from metasync.budgets import ADS_INSIGHTS
from metasync.graph.client import GraphClient
from metasync.graph.errors import InvalidRequestError, ObjectNotFoundError, as_int
from metasync.graph.ids import meta_id
from metasync.graph.paging import DEFAULT_LIMIT, Listing, iter_pages
from metasync.graph.statuses import all_statuses_rule

REACH_THROTTLE_HEADER = "x-fb-ads-insights-reach-throttle"

__all__ = [
    "DEFAULT_INSIGHT_FIELDS",
    "VIDEO_FIELDS",
    "JobState",
    "ReportJobStatus",
    "insights_params",
    "reach_throttle_pct",
    "read_insights",
    "report_results",
    "report_status",
    "start_report",
]

# Meta's video metrics (Ads Insights reference, "Fields"): lists of ``{"action_type":
# "video_view", "value": "<n>"}``; the average time watched is seconds per play. Meta omits them
# on rows without video plays. The sync's daily reads ask for them (metasync.sync.shapes.targets).
VIDEO_FIELDS = (
    "video_play_actions",
    "video_thruplay_watched_actions",
    "video_p25_watched_actions",
    "video_p50_watched_actions",
    "video_p75_watched_actions",
    "video_p95_watched_actions",
    "video_p100_watched_actions",
    "video_avg_time_watched_actions",
)
DEFAULT_INSIGHT_FIELDS = (
    "account_id",
    "campaign_id",
    "adset_id",
    "ad_id",
    "date_start",
    "date_stop",
    "impressions",
    "clicks",
    "inline_link_clicks",
    "spend",
    "reach",
    "frequency",
    "ctr",
    "cpc",
    "cpm",
    "actions",
    "action_values",
    "attribution_setting",
)


class JobState(StrEnum):
    NOT_STARTED = "Job Not Started"
    STARTED = "Job Started"
    RUNNING = "Job Running"
    COMPLETED = "Job Completed"
    FAILED = "Job Failed"
    SKIPPED = "Job Skipped"


@dataclass(frozen=True)
class ReportJobStatus:
    """``GET /{report_run_id}``. ``not_visible_yet``: Meta answered (100, 33) right after the
    job was created (a known race); poll again rather than treating the job as lost."""

    report_run_id: str
    state: JobState
    percent: int
    error_code: int | None = None  # from v25 on, for failed jobs
    error_message: str | None = None
    error_subcode: int | None = None
    error_user_title: str | None = None
    error_user_msg: str | None = None
    not_visible_yet: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.state is JobState.COMPLETED

    @property
    def failed(self) -> bool:
        return self.state in (JobState.FAILED, JobState.SKIPPED)

    @property
    def stuck_candidate(self) -> bool:
        """At 100 % but not completed: give it a grace period, then treat it as failed."""
        return self.percent >= 100 and not self.completed and not self.failed


def insights_params(
    *,
    level: str,
    fields: Sequence[str] = DEFAULT_INSIGHT_FIELDS,
    since: str | None = None,
    until: str | None = None,
    date_preset: str | None = None,
    time_increment: int | str = 1,
    breakdowns: Sequence[str] = (),
    action_attribution_windows: Sequence[str] = (),
    action_breakdowns: Sequence[str] | None = None,
    filtering: Sequence[Mapping[str, Any]] = (),
    all_statuses: bool = True,
) -> dict[str, Any]:
    """Build the query of an insights read or job. Give ``since``/``until`` or ``date_preset``.

    ``all_statuses`` (the default) adds ``{level}.effective_status IN [every status]`` at the
    campaign, ad set and ad levels: without it Meta leaves out the rows of archived and deleted
    objects. Account rows include every child already and need no filter.
    """
    if (since is None) != (until is None):
        raise ValueError("since and until go together")
    if (since is None) == (date_preset is None):
        raise ValueError("give either since/until or date_preset")
    params: dict[str, Any] = {
        "level": level,
        "fields": ",".join(fields),
        "time_increment": time_increment,
    }
    if date_preset is not None:
        params["date_preset"] = date_preset
    else:
        params["time_range"] = {"since": since, "until": until}
    if breakdowns:
        params["breakdowns"] = ",".join(breakdowns)
    if action_attribution_windows:
        params["action_attribution_windows"] = list(action_attribution_windows)
    if action_breakdowns is not None:
        params["action_breakdowns"] = ",".join(action_breakdowns)
    rules = [dict(rule) for rule in filtering]
    if all_statuses and level != "account":
        rules = [all_statuses_rule(level), *rules]
    if rules:
        params["filtering"] = rules
    return params


def _act(account_id: str) -> str:
    return account_id if account_id.startswith("act_") else f"act_{account_id}"


def read_insights(
    client: GraphClient,
    object_id: str,
    params: Mapping[str, Any],
    *,
    account_id: str,
    limit: int = DEFAULT_LIMIT,
    after: str | None = None,
) -> Listing:
    """Synchronous, paginated read of ``/{object_id}/insights``.

    Raises :class:`~metasync.graph.errors.InsightsTimeoutError` when Meta times the read out:
    the caller switches to an async job.
    """
    return iter_pages(
        client, f"{object_id}/insights", params, account_id=account_id, limit=limit, after=after
    )


def reach_throttle_pct(headers: Mapping[str, str]) -> int | None:
    """The share (percent) of the day's 10 reach jobs of old breakdown reads used, from
    ``x-fb-ads-insights-reach-throttle`` (a JSON object; its key is not documented by Meta, so
    the first number in it is taken); None without the header."""
    raw = next((v for k, v in headers.items() if k.lower() == REACH_THROTTLE_HEADER), None)
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    numbers = (
        [v for v in body.values() if isinstance(v, int | float)] if isinstance(body, dict) else []
    )
    return int(numbers[0]) if numbers else None


def start_report(
    client: GraphClient,
    account_id: str,
    params: Mapping[str, Any],
    on_reach_throttle: Callable[[int], object] | None = None,
) -> str:
    """``POST /act_{id}/insights``: start an async job; returns its report run id.
    ``on_reach_throttle`` gets the reach-throttle percentage when Meta sends it."""
    response = client.post(
        f"{_act(account_id)}/insights", params, account_id=account_id, retry=False
    )
    body = response.body
    throttle = reach_throttle_pct(response.headers)
    if throttle is not None and on_reach_throttle is not None:
        on_reach_throttle(throttle)
    report_run_id = body.get("report_run_id") if isinstance(body, dict) else None
    if not report_run_id:
        raise InvalidRequestError("Meta started no report job (no report_run_id in the answer)")
    return meta_id(report_run_id, "report_run_id")


def report_status(client: GraphClient, report_run_id: str, *, account_id: str) -> ReportJobStatus:
    """``GET /{report_run_id}``: the job's state, percent and (v25+) error fields."""
    try:
        body = client.get(
            report_run_id,
            {
                "fields": "id,async_status,async_percent_completion,error_code,error_message,"
                "error_subcode,error_user_title,error_user_msg",
            },
            account_id=account_id,
            use_case=ADS_INSIGHTS,
        ).body
    except ObjectNotFoundError:
        return ReportJobStatus(report_run_id, JobState.NOT_STARTED, 0, not_visible_yet=True)
    body = body if isinstance(body, dict) else {}
    raw_state = str(body.get("async_status") or JobState.NOT_STARTED.value)
    try:
        state = JobState(raw_state)
    except ValueError:
        state = JobState.RUNNING  # an unknown state is treated as still running; raw keeps it
    try:
        percent = int(float(body.get("async_percent_completion") or 0))
    except (TypeError, ValueError):
        percent = 0
    return ReportJobStatus(
        report_run_id,
        state,
        percent,
        error_code=as_int(body.get("error_code")),
        error_message=str(body["error_message"]) if body.get("error_message") else None,
        error_subcode=as_int(body.get("error_subcode")),
        error_user_title=str(body["error_user_title"]) if body.get("error_user_title") else None,
        error_user_msg=str(body["error_user_msg"]) if body.get("error_user_msg") else None,
        raw=body,
    )


def report_results(
    client: GraphClient,
    report_run_id: str,
    *,
    account_id: str,
    limit: int = DEFAULT_LIMIT,
    after: str | None = None,
) -> Listing:
    """``GET /{report_run_id}/insights``: the rows of a completed job, paginated."""
    return iter_pages(
        client, f"{report_run_id}/insights", {}, account_id=account_id, limit=limit, after=after
    )
