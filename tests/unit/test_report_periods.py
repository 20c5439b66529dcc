"""Which days a report reads: whole periods on explicit runs, and Meta's history limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from metasync.reports.definitions import PREBUILT
from metasync.sync.plan.report_plan import history_start, report_range

TODAY = date(2026, 12, 9)  # a Wednesday


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ("country", (date(2026, 11, 3), date(2026, 11, 4))),  # daily rows: just the days
        ("reach_weekly", (date(2026, 11, 2), date(2026, 11, 8))),  # Monday to Sunday
        ("reach_monthly", (date(2026, 11, 1), date(2026, 11, 30))),  # the whole month
    ],
)
def test_an_explicit_range_reads_whole_weeks_and_months(
    report: str, expected: tuple[date, date]
) -> None:
    days = report_range(PREBUILT[report], "explicit", date(2026, 11, 3), date(2026, 11, 4), TODAY)
    assert days == expected


def test_the_current_week_and_month_end_today() -> None:
    for name in ("reach_weekly", "reach_monthly"):
        days = report_range(PREBUILT[name], "explicit", date(2026, 12, 8), TODAY, TODAY)
        assert days is not None and days[1] == TODAY


def test_an_explicit_run_reads_a_whole_range_report_over_its_own_range() -> None:
    lifetime = report_range(
        PREBUILT["reach_lifetime"], "explicit", date(2026, 11, 3), date(2026, 11, 4), TODAY
    )
    assert lifetime == report_range(PREBUILT["reach_lifetime"], "lookback", TODAY, TODAY, TODAY)
    assert lifetime is not None and lifetime[0] < date(2024, 1, 1) and lifetime[1] == TODAY


@pytest.mark.parametrize(
    ("breakdowns", "oldest"),
    [
        (("hourly_stats_aggregated_by_advertiser_time_zone",), date(2025, 11, 9)),  # 13 months
        (("hourly_stats_aggregated_by_audience_time_zone",), date(2025, 11, 9)),
        (("frequency_value",), date(2026, 6, 9)),  # 6 months
    ],
)
def test_history_limits_clamp_what_is_asked(breakdowns: tuple[str, ...], oldest: date) -> None:
    """Meta, 2026-01-12: hourly breakdowns reach back 13 months, frequency_value 6."""
    report = replace(PREBUILT["country"], breakdowns=breakdowns)
    assert history_start(report, TODAY) == oldest
    days = report_range(report, "explicit", date(2024, 1, 1), date(2026, 12, 1), TODAY)
    assert days == (oldest, date(2026, 12, 1))
    assert report_range(report, "explicit", date(2024, 1, 1), date(2024, 2, 1), TODAY) is None
    assert history_start(PREBUILT["country"], TODAY) == date.min  # 37 months, as every report
