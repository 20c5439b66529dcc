"""Insights: parameters, synchronous read, and the async job's three calls."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from metasync.graph import (
    InsightsTimeoutError,
    InvalidRequestError,
    JobState,
    insights_params,
    read_insights,
    report_results,
    report_status,
    start_report,
)
from tests.unit.graph.helpers import BASE, error_body, make_client


def test_params_for_a_range_with_breakdowns_and_attribution() -> None:
    params = insights_params(
        level="ad",
        since="2026-10-01",
        until="2026-10-30",
        breakdowns=["age", "gender"],
        action_attribution_windows=["7d_click", "1d_view"],
    )
    assert params["level"] == "ad" and params["time_increment"] == 1
    assert params["time_range"] == {"since": "2026-10-01", "until": "2026-10-30"}
    assert params["breakdowns"] == "age,gender"
    assert params["action_attribution_windows"] == ["7d_click", "1d_view"]
    assert "date_preset" not in params
    assert "spend" in params["fields"] and "action_values" in params["fields"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"since": "2026-01-01"},
        {"since": "2026-01-01", "until": "2026-01-02", "date_preset": "yesterday"},
    ],
)
def test_params_need_exactly_one_period(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="since"):
        insights_params(level="ad", **kwargs)


@responses.activate
def test_sync_read_pages_and_sends_json_time_range() -> None:
    url = f"{BASE}/act_1/insights"
    responses.get(
        url,
        json={
            "data": [{"ad_id": "1", "spend": "1.5"}],
            "paging": {"cursors": {"after": "x"}, "next": f"{url}?after=x"},
        },
    )
    responses.get(url, json={"data": [{"ad_id": "2", "spend": "2.5"}]})
    client, _ = make_client()
    params = insights_params(level="ad", date_preset="last_7d")
    rows = [
        row for page in read_insights(client, "act_1", params, account_id="1") for row in page.items
    ]
    assert [r["ad_id"] for r in rows] == ["1", "2"]
    query = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert query["date_preset"] == ["last_7d"] and query["time_increment"] == ["1"]


@responses.activate
def test_sync_read_timeout_asks_for_async() -> None:
    responses.get(f"{BASE}/act_1/insights", json=error_body(2, 1504038), status=500)
    client, sleeper = make_client()
    with pytest.raises(InsightsTimeoutError):
        list(
            read_insights(
                client, "act_1", insights_params(level="ad", date_preset="maximum"), account_id="1"
            )
        )
    assert len(responses.calls) == 1 and sleeper.delays == []


@responses.activate
def test_start_report_posts_and_returns_the_id() -> None:
    responses.post(f"{BASE}/act_1/insights", json={"report_run_id": "6001"})
    client, _ = make_client()
    params = insights_params(level="campaign", since="2026-01-01", until="2026-03-01")
    assert start_report(client, "1", params) == "6001"
    form = parse_qs(responses.calls[0].request.body)
    assert json.loads(form["time_range"][0]) == {"since": "2026-01-01", "until": "2026-03-01"}


@responses.activate
def test_start_report_without_id_is_an_error() -> None:
    responses.post(f"{BASE}/act_1/insights", json={})
    client, _ = make_client()
    with pytest.raises(InvalidRequestError, match="report_run_id"):
        start_report(client, "act_1", insights_params(level="ad", date_preset="yesterday"))


@pytest.mark.parametrize("state", list(JobState))
@responses.activate
def test_every_job_state_is_typed(state: JobState) -> None:
    responses.get(
        f"{BASE}/6001",
        json={"id": "6001", "async_status": state.value, "async_percent_completion": 40},
    )
    client, _ = make_client()
    status = report_status(client, "6001", account_id="1")
    assert status.state is state and status.percent == 40
    assert status.completed == (state is JobState.COMPLETED)
    assert status.failed == (state in (JobState.FAILED, JobState.SKIPPED))


@responses.activate
def test_running_at_100_percent_is_not_completed() -> None:
    responses.get(
        f"{BASE}/6001", json={"async_status": "Job Running", "async_percent_completion": 100}
    )
    client, _ = make_client()
    status = report_status(client, "6001", account_id="1")
    assert not status.completed and status.stuck_candidate


@responses.activate
def test_failed_job_carries_v25_error_fields() -> None:
    responses.get(
        f"{BASE}/6001",
        json={
            "async_status": "Job Failed",
            "async_percent_completion": 0,
            "error_code": 2601,
            "error_message": "too large",
        },
    )
    client, _ = make_client()
    status = report_status(client, "6001", account_id="1")
    assert status.failed and status.error_code == 2601 and status.error_message == "too large"


@responses.activate
def test_missing_job_right_after_start_is_not_visible_yet() -> None:
    responses.get(f"{BASE}/6001", json=error_body(100, 33), status=400)
    client, _ = make_client()
    status = report_status(client, "6001", account_id="1")
    assert status.not_visible_yet and status.state is JobState.NOT_STARTED


@responses.activate
def test_unknown_state_counts_as_running() -> None:
    responses.get(
        f"{BASE}/6001", json={"async_status": "Job Thinking", "async_percent_completion": "x"}
    )
    client, _ = make_client()
    status = report_status(client, "6001", account_id="1")
    assert status.state is JobState.RUNNING and status.percent == 0
    assert status.raw["async_status"] == "Job Thinking"


@responses.activate
def test_report_results_are_paginated() -> None:
    url = f"{BASE}/6001/insights"
    responses.get(
        url,
        json={
            "data": [{"ad_id": "1"}],
            "paging": {"cursors": {"after": "r1"}, "next": f"{url}?after=r1"},
        },
    )
    responses.get(url, json={"data": [{"ad_id": "2"}]})
    client, _ = make_client()
    pages = list(report_results(client, "6001", account_id="1", limit=1))
    assert [p.items[0]["ad_id"] for p in pages] == ["1", "2"]
