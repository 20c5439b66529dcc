"""Async report jobs and every injectable fault."""

from __future__ import annotations

import json
import time

import pytest
import requests

from metasync.graph import (
    BatchRequest,
    InsightsTimeoutError,
    JobState,
    TokenError,
    TransientError,
    batch,
    insights_params,
    iter_pages,
    read_insights,
    report_results,
    report_status,
    start_report,
)
from tests.support.sandbox import Sandbox


def wait_for(sandbox: Sandbox, report_run_id: str, account: str, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    client = sandbox.client()
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        status = report_status(client, report_run_id, account_id=account)
        seen.append(status.state)
        if status.completed or status.failed:
            return status, seen
        time.sleep(0.1)
    return status, seen


def test_async_job_progresses_and_pages_its_results(sandbox: Sandbox) -> None:
    sandbox.control("POST", "faults", {"job_seconds": 1.0})
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    truth = sandbox.truth()
    first, last = truth["windows"][account.removeprefix("act_")]
    report_id = start_report(client, account, insights_params(level="ad", since=first, until=last))
    status, seen = wait_for(sandbox, report_id, account)
    assert status.completed and status.percent == 100
    assert seen[0] in (JobState.NOT_STARTED, JobState.STARTED, JobState.RUNNING)
    assert JobState.RUNNING in seen
    rows = [r for p in report_results(client, report_id, account_id="x", limit=25) for r in p.items]
    expected = [r for r in truth["insights"]["ad"] if f"act_{r['account_id']}" == account]
    assert rows == expected


@pytest.mark.parametrize(
    ("fault", "state"), [("job_fail_rate", JobState.FAILED), ("job_skip_rate", JobState.SKIPPED)]
)
def test_failed_and_skipped_jobs(sandbox: Sandbox, fault: str, state: JobState) -> None:
    sandbox.control("POST", "faults", {fault: 1.0, "job_seconds": 0.2})
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    report_id = start_report(client, account, insights_params(level="ad", date_preset="last_7d"))
    status, _ = wait_for(sandbox, report_id, account)
    assert status.state is state and status.failed
    if state is JobState.FAILED:
        assert (status.error_code, status.error_subcode) == (1, 1487534)  # v25: too much data
        assert status.error_message and status.error_user_title and status.error_user_msg
    with pytest.raises(TransientError):
        list(report_results(client, report_id, account_id="x"))


def test_stuck_job_sits_at_100_percent_running(sandbox: Sandbox) -> None:
    sandbox.control("POST", "faults", {"job_stuck_rate": 1.0, "job_seconds": 0.2})
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    report_id = start_report(client, account, insights_params(level="ad", date_preset="last_7d"))
    time.sleep(0.4)
    status = report_status(client, report_id, account_id="x")
    assert status.state is JobState.RUNNING and status.percent == 100 and status.stuck_candidate


def test_new_job_is_briefly_invisible(sandbox: Sandbox) -> None:
    sandbox.control("POST", "faults", {"job_visibility_seconds": 0.5, "job_seconds": 0.2})
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    report_id = start_report(client, account, insights_params(level="ad", date_preset="last_7d"))
    assert report_status(client, report_id, account_id="x").not_visible_yet
    time.sleep(0.8)
    assert report_status(client, report_id, account_id="x").completed


@pytest.mark.parametrize(
    ("fault", "status", "code"), [("error_5xx_rate", 500, 1), ("code2_rate", 503, 2)]
)
def test_error_rates(sandbox: Sandbox, fault: str, status: int, code: int) -> None:
    sandbox.control("POST", "faults", {fault: 1.0})
    answer = sandbox.get("me")
    assert answer.status_code == status and answer.json()["error"]["code"] == code
    assert answer.json()["error"]["is_transient"] is True
    assert "X-App-Usage" in answer.headers  # usage headers on failed answers too


def test_latency_and_slow_answers(sandbox: Sandbox) -> None:
    sandbox.control("POST", "faults", {"latency_ms": 150})
    started = time.monotonic()
    sandbox.get("me")
    assert time.monotonic() - started >= 0.15
    sandbox.control("PUT", "faults", {"slow_rate": 1.0, "slow_ms": 400})
    started = time.monotonic()
    sandbox.get("me")
    assert time.monotonic() - started >= 0.4


def test_reduce_data_above_a_page_size(sandbox: Sandbox) -> None:
    sandbox.control("POST", "faults", {"reduce_data_above": 3})
    account = sandbox.user()["ad_account_ids"][0]
    big = sandbox.get(f"{account}/ads", limit=10).json()
    assert big["error"]["code"] == 1 and "reduce the amount of data" in big["error"]["message"]
    client = sandbox.client()
    pages = list(iter_pages(client, f"{account}/ads", {"fields": "id"}, limit=10))
    assert pages and all(p.limit <= 3 for p in pages)
    assert sum(len(p.items) for p in pages) > 0


def test_empty_pages_that_carry_next(sandbox: Sandbox) -> None:
    account = sandbox.user()["ad_account_ids"][0]
    client = sandbox.client()
    params = {
        "fields": "id",
        "effective_status": json.dumps(
            [
                "ACTIVE",
                "PAUSED",
                "ARCHIVED",
                "DELETED",
                "ADSET_PAUSED",
                "CAMPAIGN_PAUSED",
                "DISAPPROVED",
                "PENDING_REVIEW",
                "WITH_ISSUES",
            ]
        ),
    }
    clean = [
        i["id"] for p in iter_pages(client, f"{account}/ads", params, limit=2) for i in p.items
    ]
    sandbox.control("POST", "faults", {"empty_page_rate": 0.5, "seed": 4})
    pages = list(iter_pages(client, f"{account}/ads", params, limit=2, max_pages=500))
    assert any(not p.items for p in pages[:-1]), "some pages should be empty but carry next"
    assert [i["id"] for p in pages for i in p.items] == clean


def test_null_batch_items(sandbox: Sandbox) -> None:
    sandbox.control("POST", "faults", {"batch_null_rate": 1.0})
    client = sandbox.client()
    results = batch(client, [BatchRequest("me"), BatchRequest("me")], max_rounds=2)
    assert all(isinstance(r.error, TransientError) for r in results)


def test_token_expires_mid_run(sandbox: Sandbox, fresh_sandbox) -> None:  # type: ignore[no-untyped-def]
    own = fresh_sandbox(faults={"token_expire_after_calls": 3})
    client = own.client()
    for _ in range(3):
        client.get("me")
    with pytest.raises(TokenError) as caught:
        client.get("me")
    assert caught.value.subcode == 463


def test_sync_insights_time_out_over_long_ranges(sandbox: Sandbox) -> None:
    sandbox.control("POST", "faults", {"sync_timeout_days": 7})
    client = sandbox.client()
    account = sandbox.user()["ad_account_ids"][0]
    with pytest.raises(InsightsTimeoutError):
        list(
            read_insights(
                client, account, insights_params(level="ad", date_preset="last_14d"), account_id="x"
            )
        )
    assert list(
        read_insights(
            client, account, insights_params(level="ad", date_preset="last_7d"), account_id="x"
        )
    )


def test_bad_fault_settings_are_refused(sandbox: Sandbox) -> None:
    answer = requests.post(f"{sandbox.url}/_sandbox/faults", json={"no_such_fault": 1}, timeout=5)
    assert answer.status_code == 400 and "no_such_fault" in answer.json()["error"]


def test_an_unknown_job_failure_is_refused_by_name(sandbox: Sandbox) -> None:
    """A fault profile asking failed jobs for a code the sandbox does not model is an error
    naming it, not a silent "too much data"."""
    answer = sandbox.http.put(
        f"{sandbox.url}/_sandbox/faults", json={"job_fail_code": 7}, timeout=10
    )
    assert answer.status_code == 400
    assert "job_fail_code 7 is not one of 1, 2, 100" in answer.json()["error"]
