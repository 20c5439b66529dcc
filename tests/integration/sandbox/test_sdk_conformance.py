"""Conformance: Meta's official SDK (facebook-business), pointed at the sandbox, can read it.

If the SDK cannot list campaigns across pages or run an async insights job to completion here,
the sandbox is wrong, whatever our own client thinks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adreportrun import AdReportRun
from facebook_business.adobjects.adsinsights import AdsInsights
from facebook_business.adobjects.campaign import Campaign
from facebook_business.api import FacebookAdsApi
from facebook_business.session import FacebookSession

from tests.support.sandbox import Sandbox


@pytest.fixture
def sdk(sandbox: Sandbox) -> Iterator[FacebookAdsApi]:
    original = FacebookSession.GRAPH
    FacebookSession.GRAPH = sandbox.url
    try:
        yield FacebookAdsApi.init(
            app_id=sandbox.info["app_id"],
            app_secret=sandbox.info["app_secret"],
            access_token=sandbox.user()["token"],
            api_version=sandbox.info["api_version"],
            crash_log=False,
        )
    finally:
        FacebookSession.GRAPH = original


def test_sdk_lists_campaigns_across_pages(sandbox: Sandbox, sdk: FacebookAdsApi) -> None:
    account_id = sandbox.user()["ad_account_ids"][0]
    account = AdAccount(account_id, api=sdk)
    campaigns = account.get_campaigns(
        fields=[Campaign.Field.id, Campaign.Field.name, Campaign.Field.effective_status],
        params={"limit": 2},
    )
    listed = [campaign[Campaign.Field.id] for campaign in campaigns]
    truth = [
        c["id"]
        for c in sandbox.truth()["campaigns"]
        if f"act_{c['account_id']}" == account_id
        and c["effective_status"] not in ("ARCHIVED", "DELETED")
    ]
    assert sorted(listed) == sorted(truth)
    assert len(listed) > 2, "the listing should span several pages"
    by_path = sandbox.control("GET", "counters")["by_path"]
    assert by_path["GET /act_{id}/campaigns"] == -(-len(truth) // 2)
    assert sandbox.control("GET", "counters")["proof"].get("valid", 0) >= 2


def test_sdk_runs_an_async_insights_job_to_completion(
    sandbox: Sandbox, sdk: FacebookAdsApi
) -> None:
    sandbox.control("POST", "faults", {"job_seconds": 0.5})
    account_id = sandbox.user()["ad_account_ids"][0]
    account = AdAccount(account_id, api=sdk)
    job = account.get_insights(
        fields=[
            AdsInsights.Field.campaign_id,
            AdsInsights.Field.impressions,
            AdsInsights.Field.spend,
            AdsInsights.Field.date_start,
        ],
        params={"level": "campaign", "time_increment": 1, "date_preset": "last_7d"},
        is_async=True,
    )
    assert isinstance(job, AdReportRun)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job.api_get()
        if job[AdReportRun.Field.async_status] == "Job Completed":
            break
        time.sleep(0.2)
    assert job[AdReportRun.Field.async_status] == "Job Completed"
    assert job[AdReportRun.Field.async_percent_completion] == 100
    rows = list(job.get_result(params={"limit": 5}))
    truth = sandbox.truth()
    last = truth["windows"][account_id.removeprefix("act_")][1]
    hidden = {
        c["id"] for c in truth["campaigns"] if c["effective_status"] in ("ARCHIVED", "DELETED")
    }
    expected = [  # Meta leaves out archived and deleted campaigns without a status filter
        r
        for r in truth["insights"]["campaign"]
        if f"act_{r['account_id']}" == account_id
        and r["date_start"] >= _days_before(last, 6)
        and r["campaign_id"] not in hidden
    ]
    assert len(rows) == len(expected) > 5
    assert {(r["campaign_id"], r["date_start"], r["spend"]) for r in rows} == {
        (r["campaign_id"], r["date_start"], r["spend"]) for r in expected
    }


def _days_before(day: str, days: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) - timedelta(days=days)).isoformat()
