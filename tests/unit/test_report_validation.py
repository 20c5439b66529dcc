"""Report definitions Meta would refuse are refused before any call, naming the problem."""

from __future__ import annotations

import pytest

from metasync.reports.catalogue import combination_error
from metasync.reports.definitions import PREBUILT, ReportDefinition
from metasync.reports.validation import ReportError, check, problems


def report(**values: object) -> ReportDefinition:
    base: dict[str, object] = {"name": "mine", "level": "ad", "fields": ("impressions", "spend")}
    return ReportDefinition(**{**base, **values})  # type: ignore[arg-type]


def test_every_prebuilt_report_is_valid() -> None:
    found = {name: problems(r, custom=False) for name, r in PREBUILT.items()}
    assert found == {name: [] for name in PREBUILT}
    assert set(PREBUILT) >= {
        "age_gender",
        "country",
        "region",
        "placement",
        "device_platform",
        "hourly",
        "actions_by_device",
        "video",
        "reach_weekly",
        "reach_monthly",
        "reach_lifetime",
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"attribution_windows": ("7d_view",)}, "'7d_view' was retired by Meta on 2026-01-12"),
        ({"attribution_windows": ("3d_click",)}, "unknown attribution window '3d_click'"),
        ({"fields": ("impressions", "spend_total")}, "unknown insights field 'spend_total'"),
        (
            {"breakdowns": ("age", "country")},
            "Current combination of data breakdown columns (action_type, age, country) is invalid",
        ),
        ({"breakdowns": ("platform_position",)}, "(action_type, platform_position) is invalid"),
        (
            {"breakdowns": ("age",), "action_breakdowns": ("action_device",)},
            "(action_device, age) is invalid",
        ),
        (
            {"breakdowns": ("dma",)},
            "breakdown 'dma' was retired by Meta on 2026-06-22; use comscore_market instead",
        ),
        ({"breakdowns": ("nielsen_dma",)}, "unknown breakdown nielsen_dma"),
        (
            {
                "breakdowns": ("hourly_stats_aggregated_by_advertiser_time_zone",),
                "fields": ("impressions", "reach", "unique_clicks"),
            },
            "hourly breakdowns exclude reach and unique fields: reach, unique_clicks",
        ),
        ({"time_increment": "14"}, "time increment '14' is not one of 1, 7, monthly, all_days"),
        ({"level": "creative"}, "level 'creative' is not one of account, campaign, adset, ad"),
        ({"name": "Age Report"}, "report name 'Age Report' must be lower-case"),
        ({"name": "country"}, "report name 'country' is a prebuilt report's"),
        ({"name": "ad"}, "report name 'ad' is a level's"),
        ({"lookback_days": 2000}, "lookback 2000 days is not within 0-1100"),
    ],
)
def test_a_report_meta_would_refuse_is_refused_with_its_reason(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ReportError) as refused:
        check(report(**values))
    assert message in str(refused.value)


def test_served_combinations_pass() -> None:
    assert combination_error(("age", "gender"), ("action_type",)) is None
    assert (
        combination_error(
            ("publisher_platform", "platform_position", "impression_device"), ("action_device",)
        )
        is None
    )
    assert combination_error((), ("action_device",)) is None
    assert check(report(breakdowns=("country",), attribution_windows=("1d_click", "1d_ev")))


def test_definitions_round_trip_through_storage() -> None:
    for definition in PREBUILT.values():
        again = ReportDefinition.from_dict(definition.as_dict())
        assert again == definition
        assert again.request_shape() == definition.request_shape()
