"""Usage headers parsed into one typed report."""

from __future__ import annotations

import json

import pytest

from metasync.graph import parse_usage_headers


def test_all_four_headers() -> None:
    report = parse_usage_headers(
        {
            "X-App-Usage": json.dumps({"call_count": 28, "total_cputime": 25, "total_time": 30}),
            "X-Ad-Account-Usage": json.dumps(
                {
                    "acc_id_util_pct": 9.67,
                    "reset_time_duration": 100,
                    "ads_api_access_tier": "standard_access",
                }
            ),
            "X-Business-Use-Case-Usage": json.dumps(
                {
                    "111": [
                        {
                            "type": "ads_insights",
                            "call_count": 95,
                            "total_cputime": 20,
                            "total_time": 20,
                            "estimated_time_to_regain_access": 0,
                            "ads_api_access_tier": "standard_access",
                        },
                        {
                            "type": "ads_management",
                            "call_count": 5,
                            "total_cputime": 1,
                            "total_time": 1,
                            "estimated_time_to_regain_access": 7,
                        },
                    ],
                    "222": [
                        {
                            "type": "ads_insights",
                            "call_count": 1,
                            "total_cputime": 101,
                            "total_time": 1,
                            "estimated_time_to_regain_access": 2,
                        }
                    ],
                }
            ),
            "X-FB-Ads-Insights-Throttle": json.dumps(
                {"app_id_util_pct": 100, "acc_id_util_pct": 10}
            ),
        }
    )
    assert report.app is not None and report.app.max_pct == 30
    assert report.account is not None
    assert report.account.acc_id_util_pct == pytest.approx(9.67)
    assert report.account.reset_time_duration == 100
    assert report.account.ads_api_access_tier == "standard_access"
    assert [(e.business_id, e.type) for e in report.business] == [
        ("111", "ads_insights"),
        ("111", "ads_management"),
        ("222", "ads_insights"),
    ]
    assert report.business[1].regain_seconds == 420.0  # minutes converted to seconds
    assert report.business[2].max_pct == 101
    assert report.longest_regain() == ("111", 420.0)
    assert report.insights is not None and report.insights.app_id_util_pct == 100
    assert report.max_pct() == 101
    assert not report.empty


def test_header_names_are_case_insensitive() -> None:
    report = parse_usage_headers({"x-app-usage": '{"call_count": 50}'})
    assert report.app is not None and report.app.call_count == 50


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", "", "null", '{"call_count": "many"}'])
def test_malformed_headers_yield_nothing_but_never_fail(raw: str) -> None:
    report = parse_usage_headers({"X-App-Usage": raw, "X-Business-Use-Case-Usage": raw})
    assert report.business == ()
    assert report.app is None or report.app.call_count == 0


def test_exhausted_account_reports_its_reset_time() -> None:
    full = parse_usage_headers(
        {"X-Ad-Account-Usage": '{"acc_id_util_pct": 100, "reset_time_duration": 250}'}
    )
    half = parse_usage_headers(
        {"X-Ad-Account-Usage": '{"acc_id_util_pct": 50, "reset_time_duration": 250}'}
    )
    assert full.account_reset_seconds() == 250 and half.account_reset_seconds() is None
    assert parse_usage_headers({}).empty
