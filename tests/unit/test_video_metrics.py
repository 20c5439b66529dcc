"""Meta's video metrics on a daily row: kept as Meta's lists, summed for the REST API and the
warehouse's ``metasync_daily_insights``."""

from __future__ import annotations

from datetime import UTC, datetime

from metasync.export.own import own_row
from metasync.export.tables import TABLES
from metasync.export.values import Unconvertible
from metasync.sync.shapes.insights_map import VIDEO_FIELDS, map_insight_row, video_totals

RAW = {
    "ad_id": "7",
    "date_start": "2026-12-01",
    "impressions": "1000",
    "video_play_actions": [{"action_type": "video_view", "value": "300"}],
    "video_thruplay_watched_actions": [{"action_type": "video_view", "value": "90"}],
    "video_p25_watched_actions": [{"action_type": "video_view", "value": "200"}],
    "video_p100_watched_actions": [{"action_type": "video_view", "value": "40"}],
    "video_avg_time_watched_actions": [{"action_type": "video_view", "value": "6.5"}],
}


def _mapped(raw: dict[str, object]) -> dict[str, object]:
    return map_insight_row(
        raw,
        tenant_id="t",
        account_id="1",
        level="ad",
        currency="EUR",
        conversion_types=("purchase",),
        fetched_at=datetime(2026, 12, 2, tzinfo=UTC),
    )


def test_the_lists_are_kept_and_absent_ones_are_empty() -> None:
    row = _mapped(RAW)
    assert row["video_thruplay_watched_actions"] == RAW["video_thruplay_watched_actions"]
    assert row["video_p50_watched_actions"] == []
    assert _mapped({"date_start": "2026-12-01"})["video_play_actions"] == []


def test_totals_for_the_api_leave_out_what_meta_did_not_send() -> None:
    totals = video_totals(_mapped(RAW))
    assert totals == {
        "video_play_actions": "300",
        "video_thruplay_watched_actions": "90",
        "video_p25_watched_actions": "200",
        "video_p100_watched_actions": "40",
        "video_avg_time_watched_actions": "6.5",
    }


def test_the_warehouse_row_holds_counts_seconds_and_names_a_bad_value() -> None:
    doc = {**_mapped(RAW), "entity_id": "7", "_id": "x"}
    names = TABLES["metasync_daily_insights"].names
    columns = dict(zip(names, own_row("metasync_daily_insights", doc), strict=True))
    assert [columns[name] for name in VIDEO_FIELDS] == [300, 90, 200, None, None, None, 40, 6.5]
    bad = {**doc, "video_p25_watched_actions": [{"action_type": "video_view", "value": "n/a"}]}
    row = own_row("metasync_daily_insights", bad)
    held = row[TABLES["metasync_daily_insights"].names.index("video_p25_watched_actions")]
    assert isinstance(held, Unconvertible)
