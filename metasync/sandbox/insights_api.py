"""The sandbox's insights endpoints: synchronous reads and async report jobs.

Which rows a read returns follows Meta's "Manage your ad object's status": ``act_{id}/insights``
at ``level`` campaign, adset or ad leaves out the rows of ARCHIVED and DELETED objects of that
level unless the request filters on ``{level}.effective_status``; the stats of an object always
include all its children, whatever their status (so account rows, and a live campaign's rows,
count deleted ads), and ``/{object id}/insights`` of a deleted object still answers.
``filtering`` rules name the object they test by prefix (``campaign.id``,
``adset.effective_status``, ``ad.name``). ``time_ranges`` (a list of ranges) overrides
``time_range``, ``date_preset`` and ``time_increment``: one row per entity and range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta

from metasync.sandbox.breakdown_rules import HISTORY_MONTHS, OPT_IN_BREAKDOWNS
from metasync.sandbox.breakdowns import BREAKDOWN_NAMES
from metasync.sandbox.catalogue import allowed_fields
from metasync.sandbox.errors import GraphError
from metasync.sandbox.insights_query import parse_query
from metasync.sandbox.listing import matches, paginate
from metasync.sandbox.metrics import query_rows
from metasync.sandbox.query import parse_fields, parse_filtering, preset_range, select_fields
from metasync.sandbox.reach import (
    REACH_FIELDS,
    corrupted,
    old_reach_start,
    reach_job_allowed,
    without_reach,
)
from metasync.sandbox.state import SandboxState

__all__ = ["HEADERS_KEY", "INSIGHT_FIELDS", "insights_rows", "job_results", "read", "start_job"]

INSIGHT_FIELDS = allowed_fields("insights")
HIDDEN = ("ARCHIVED", "DELETED")
RETENTION_MONTHS = 37  # Meta keeps 37 months (calendar months, as date_preset=maximum)
HEADERS_KEY = "_headers"  # answer headers a body carries to the server, which removes them
ROWS_CACHE_SIZE = 64  # computed row sets kept (oldest dropped first)


def _parse_range(raw: Any) -> tuple[date, date]:
    try:
        window = json.loads(raw) if isinstance(raw, str) else dict(raw)
        first, last = date.fromisoformat(window["since"]), date.fromisoformat(window["until"])
    except (ValueError, KeyError, TypeError):
        raise GraphError(
            400,
            100,
            "(#100) time_range must be {'since': 'YYYY-MM-DD', 'until': 'YYYY-MM-DD'}",
            error_type="GraphMethodException",
        ) from None
    if first > last:
        raise GraphError(
            400, 100, "(#100) time_range since is after until", error_type="GraphMethodException"
        )
    return first, last


def _periods(
    state: SandboxState, account_id: str, params: Mapping[str, Any]
) -> list[tuple[date, date]]:
    """The ranges a read covers: ``time_ranges`` (each one), else ``time_range``, else the
    ``date_preset`` (default ``last_30d``), in the account's time zone."""
    today = state.world.account_today(account_id)
    retention_start = today - relativedelta(months=RETENTION_MONTHS)
    ranges = params.get("time_ranges")
    if ranges:
        try:
            listed = json.loads(ranges) if isinstance(ranges, str) else list(ranges)
        except (ValueError, TypeError):
            listed = None
        if not isinstance(listed, list) or not listed:
            raise GraphError(
                400,
                100,
                "(#100) time_ranges must be a list of {'since', 'until'}",
                error_type="GraphMethodException",
            )
        periods = [_parse_range(item) for item in listed]
    elif params.get("time_range"):
        periods = [_parse_range(params["time_range"])]
    else:
        preset = str(params.get("date_preset") or "last_30d")
        periods = [preset_range(preset, today, retention_start)]
    for first, _ in periods:
        if first < retention_start:
            raise GraphError(
                400,
                3018,
                "The start date of the time range cannot be beyond 37 months from the current date",
                error_type="OAuthException",
            )
    return periods


def _period(state: SandboxState, account_id: str, params: Mapping[str, Any]) -> tuple[date, date]:
    periods = _periods(state, account_id, params)
    return min(p[0] for p in periods), max(p[1] for p in periods)


def _ancestor(state: SandboxState, ad: Mapping[str, Any], prefix: str) -> Mapping[str, Any]:
    world = state.world
    if prefix == "campaign":
        return world.campaigns[ad["campaign_id"]]
    if prefix == "adset":
        return world.adsets[ad["adset_id"]]
    return ad


def _contributing_ads(
    state: SandboxState,
    account_id: str,
    level: str,
    rules: list[dict[str, Any]],
    scope: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """The ads whose stats go into the read's rows, after scope, filtering and Meta's hiding
    of archived and deleted objects of the read's level."""
    ads = [ad for ad in state.world.ads.values() if ad["account_id"] == account_id]
    if scope is not None:
        field = {"campaign": "campaign_id", "adset": "adset_id", "ad": "id"}[scope["_kind"]]
        ads = [ad for ad in ads if ad[field] == scope["id"]]
    for rule in rules:
        prefix, _, attribute = str(rule.get("field", "")).rpartition(".")
        if prefix not in ("campaign", "adset", "ad"):
            raise GraphError(
                400,
                100,
                f"(#100) Filtering field {rule.get('field')} is not supported",
                error_type="GraphMethodException",
            )
        named = {**rule, "field": attribute}
        ads = [ad for ad in ads if matches(_ancestor(state, ad, prefix), named)]
    status_filtered = any(str(r.get("field")) == f"{level}.effective_status" for r in rules)
    if level != "account" and not status_filtered:
        scope_id = scope["id"] if scope is not None and scope["_kind"] == level else None
        ads = [
            ad
            for ad in ads
            if _ancestor(state, ad, level)["effective_status"] not in HIDDEN
            or _ancestor(state, ad, level)["id"] == scope_id
        ]
    return ads


def insights_rows(
    state: SandboxState,
    account_id: str,
    params: Mapping[str, Any],
    scope: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rows an insights read (or job) returns, before field selection and paging.

    ``scope`` is the object the read is for (a campaign, ad set or ad), None for the account.
    """
    world = state.world
    default_level = "account" if scope is None else scope["_kind"]
    level = str(params.get("level") or default_level)
    if level not in ("account", "campaign", "adset", "ad"):
        raise GraphError(
            400,
            100,
            "(#100) level must be one of account, campaign, adset, ad",
            error_type="GraphMethodException",
        )
    query = parse_query(params, level)
    periods = _periods(state, account_id, params)
    first, last = min(p[0] for p in periods), max(p[1] for p in periods)
    _check_history(query.breakdowns, first, world.account_today(account_id))
    if set(query.breakdowns) & set(OPT_IN_BREAKDOWNS) and state.features.withheld(
        account_id, query.breakdowns, datetime.now(UTC)
    ):
        # "may return no results for ad accounts that have not opted in" (2026-08-03): the
        # feature (Meta's "Feature Settings API") is not in effect for the account
        return []
    limit_days = state.faults.sync_timeout_days
    if limit_days and (last - first).days + 1 > limit_days and params.get("_sync"):
        raise GraphError(
            500,
            2,
            "Service temporarily unavailable: the request timed out",
            subcode=1504038,
            is_transient=True,
        )
    rules = parse_filtering(params.get("filtering"))
    ads = _contributing_ads(state, account_id, level, rules, scope)
    ad_ids = tuple(ad["id"] for ad in ads)
    rows: list[dict[str, Any]] = []
    for period_first, period_last in periods:
        key = (account_id, query, period_first, period_last, ad_ids, world.changes.version)
        cached = state.rows_cache.get((*key, world.last_data_day(account_id)))
        if cached is None:  # every page of one listing asks for the same rows: compute once
            cached = query_rows(world, account_id, query, period_first, period_last, ad_ids)
            if len(state.rows_cache) >= ROWS_CACHE_SIZE:
                state.rows_cache.pop(next(iter(state.rows_cache)))
            state.rows_cache[(*key, world.last_data_day(account_id))] = cached
        rows += cached
    old = query.breakdowns and first < old_reach_start(world.account_today(account_id))
    if old and (params.get("_sync") or not params.get("_reach_allowed")):
        rows = [without_reach(row) for row in rows]  # Meta omits it, without an error
    return corrupted(state, account_id, query, rows)


def _check_history(breakdowns: tuple[str, ...], first: date, today: date) -> None:
    """Meta's per-breakdown history limits (2026-01-12): an older start is refused."""
    for name in breakdowns:
        months = HISTORY_MONTHS.get(name)
        if months is not None and first < today - relativedelta(months=months):
            raise GraphError(
                400,
                100,
                f"(#100) {name} is only available for the last {months} months: the start "
                f"date {first.isoformat()} is too old",
                error_type="OAuthException",
            )


def _render(fields: str | None) -> Any:
    """Rows with the fields asked for; Meta adds ``date_start``, ``date_stop`` and the
    breakdown columns to every row whatever ``fields`` says."""
    spec = parse_fields(fields or "impressions,spend")
    spec.update({"date_start": None, "date_stop": None})

    def render(row: Mapping[str, Any]) -> dict[str, Any]:
        rendered: dict[str, Any] = select_fields(row, spec, INSIGHT_FIELDS, "AdsInsights")
        rendered.update({name: row[name] for name in BREAKDOWN_NAMES if name in row})
        return rendered

    return render


def _row_key(row: Mapping[str, Any]) -> str:
    entity = row.get("ad_id") or row.get("adset_id") or row.get("campaign_id") or row["account_id"]
    values = "|".join(str(row[name]) for name in BREAKDOWN_NAMES if name in row)
    return f"{row['date_start']}:{row['date_stop']}:{entity}:{values}"


def read(
    state: SandboxState,
    account_id: str,
    params: Mapping[str, Any],
    *,
    next_base: str,
    token: str | None,
    scope: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    rows = insights_rows(state, account_id, {**params, "_sync": True}, scope)
    return paginate(
        rows,
        _row_key,
        _render(params.get("fields")),
        params,
        next_base=next_base,
        token=token,
        faults=state.faults,
    )


def start_job(state: SandboxState, account_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    rows_params = dict(params)
    insights_rows(state, account_id, rows_params)  # validate the parameters now, as Meta does
    first, last = _period(state, account_id, params)
    headers: dict[str, str] = {}
    today = state.world.account_today(account_id)
    asks_reach = any(name in REACH_FIELDS for name in str(params.get("fields") or "").split(","))
    if params.get("breakdowns") and asks_reach and first < old_reach_start(today):
        allowed, headers = reach_job_allowed(state.reach_jobs, account_id, today)
        rows_params["_reach_allowed"] = allowed
    job = state.jobs.start(
        account_id, str(params.get("level") or "account"), first, last, rows_params, state.faults
    )
    return {"report_run_id": job.id, HEADERS_KEY: headers} if headers else {"report_run_id": job.id}


def job_results(
    state: SandboxState,
    job_id: str,
    params: Mapping[str, Any],
    *,
    next_base: str,
    token: str | None,
) -> dict[str, Any]:
    job = state.jobs.jobs[job_id]
    if job.state(state.jobs.clock()) != "Job Completed":
        raise GraphError(
            400,
            2601,
            "Error accessing adreport job: the report is not ready",
            subcode=1815107,
            is_transient=True,
        )
    if job.rows is None:
        job.rows = insights_rows(state, job.account_id, job.params)
    return paginate(
        job.rows,
        _row_key,
        _render(job.params.get("fields")),
        params,
        next_base=next_base,
        token=token,
        faults=state.faults,
    )
