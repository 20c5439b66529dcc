"""The sandbox's insights endpoints: synchronous reads and async report jobs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from metasync.sandbox.errors import GraphError
from metasync.sandbox.listing import filter_objects, paginate
from metasync.sandbox.metrics import level_rows
from metasync.sandbox.query import parse_fields, preset_range, select_fields
from metasync.sandbox.state import SandboxState

__all__ = ["INSIGHT_FIELDS", "insights_rows", "job_results", "read", "start_job"]

INSIGHT_FIELDS = frozenset(
    {
        "account_id",
        "campaign_id",
        "adset_id",
        "ad_id",
        "date_start",
        "date_stop",
        "impressions",
        "clicks",
        "spend",
        "reach",
        "frequency",
        "ctr",
        "cpc",
        "cpm",
        "actions",
        "action_values",
        "account_name",
        "campaign_name",
        "adset_name",
        "ad_name",
        "account_currency",
    }
)
RETENTION_DAYS = 37 * 30  # Meta keeps 37 months
ROWS_CACHE_SIZE = 64  # computed row sets kept (oldest dropped first)


def _period(state: SandboxState, account_id: str, params: Mapping[str, Any]) -> tuple[date, date]:
    today = state.world.account_today(account_id)
    retention_start = today - timedelta(days=RETENTION_DAYS)
    raw = params.get("time_range")
    if raw:
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
                400,
                100,
                "(#100) time_range since is after until",
                error_type="GraphMethodException",
            )
        if first < retention_start:
            raise GraphError(
                400,
                3018,
                "The start date of the time range cannot be beyond 37 months from the current date",
                error_type="OAuthException",
            )
        return first, last
    return preset_range(str(params.get("date_preset") or "last_30d"), today, retention_start)


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
    increment = str(params.get("time_increment") or "all_days")
    if increment not in ("1", "all_days"):
        raise GraphError(
            400,
            100,
            "(#100) the sandbox supports time_increment 1 or all_days",
            error_type="GraphMethodException",
        )
    first, last = _period(state, account_id, params)
    limit_days = state.faults.sync_timeout_days
    if limit_days and (last - first).days + 1 > limit_days and params.get("_sync"):
        raise GraphError(
            500,
            2,
            "Service temporarily unavailable: the request timed out",
            subcode=1504038,
            is_transient=True,
        )
    ads = [dict(ad) for ad in world.ads.values() if ad["account_id"] == account_id]
    if scope is not None:
        field = {"campaign": "campaign_id", "adset": "adset_id", "ad": "id"}[scope["_kind"]]
        ads = [ad for ad in ads if ad[field] == scope["id"]]
    if params.get("filtering"):
        ads = filter_objects(
            ads, {"filtering": _ad_rules(params["filtering"])}, hide_by_default=False
        )
    ad_ids = tuple(ad["id"] for ad in ads)
    key = (account_id, level, first, last, ad_ids, increment, world.last_data_day(account_id))
    rows = state.rows_cache.get(key)
    if rows is None:  # every page of one listing asks for the same rows: compute them once
        rows = level_rows(world, account_id, level, first, last, ad_ids, daily=increment == "1")
        if len(state.rows_cache) >= ROWS_CACHE_SIZE:
            state.rows_cache.pop(next(iter(state.rows_cache)))
        state.rows_cache[key] = rows
    return rows


def _ad_rules(raw: Any) -> list[dict[str, Any]]:
    """Insights filtering names fields as ``campaign.id``, ``adset.id``, ``ad.effective_status``:
    map them onto an ad's own fields."""
    rules = json.loads(raw) if isinstance(raw, str) else list(raw)
    mapped = []
    for rule in rules:
        name = str(rule.get("field", ""))
        prefix, _, attribute = name.rpartition(".")
        if attribute == "id" and prefix in ("campaign", "adset"):
            attribute = f"{prefix}_id"
        mapped.append({**rule, "field": attribute})
    return mapped


def _render(fields: str | None) -> Any:
    spec = parse_fields(fields or "date_start,date_stop,impressions,spend")
    return lambda row: select_fields(row, spec, INSIGHT_FIELDS, "AdsInsights")


def _row_key(row: Mapping[str, Any]) -> str:
    entity = row.get("ad_id") or row.get("adset_id") or row.get("campaign_id") or row["account_id"]
    return f"{row['date_start']}:{entity}"


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
    job = state.jobs.start(
        account_id, str(params.get("level") or "account"), first, last, rows_params, state.faults
    )
    return {"report_run_id": job.id}


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
