"""Meta's library and activity shapes to document rows."""

from __future__ import annotations

from datetime import UTC, datetime

from metasync.sync.shapes.library_mapping import (
    activity_key,
    map_activity,
    map_custom_audience,
    map_custom_conversion,
    map_video,
)

EVENT = {
    "event_time": "2026-11-30T10:00:00+0000",
    "event_type": "update_campaign_run_status",
    "object_id": "238",
    "actor_id": "10",
    "actor_name": "Ana",
    "extra_data": '{"old_value":"Active","new_value":"Inactive"}',
}


def test_an_activity_is_keyed_by_what_it_says_and_its_values_lifted() -> None:
    row = map_activity(EVENT, "t", "1")
    assert (row["old_value"], row["new_value"]) == ("Active", "Inactive")
    assert row["event_time"] == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert row["meta_id"] == activity_key(EVENT)
    assert activity_key({**EVENT, "extra_data": '{"new_value":"Active"}'}) != row["meta_id"]


def test_malformed_extra_data_is_kept_as_sent_without_values() -> None:
    row = map_activity({**EVENT, "extra_data": "{not json"}, "t", "1")
    assert row["extra_data"] == "{not json" and row["old_value"] is None
    listed = map_activity({**EVENT, "extra_data": "[1, 2]"}, "t", "1")
    assert listed["new_value"] is None
    missing = map_activity({k: v for k, v in EVENT.items() if k != "extra_data"}, "t", "1")
    assert missing["extra_data"] is None


def test_audience_unix_times_video_status_and_conversion_rule() -> None:
    audience = map_custom_audience(
        {"id": "5", "time_created": 1764500000, "time_updated": "bad", "subtype": "WEBSITE"},
        "t",
        "1",
    )
    assert audience["created_time"] == datetime.fromtimestamp(1764500000, UTC)
    assert audience["updated_time"] is None
    video = map_video({"id": "7", "title": "Clip", "status": {"video_status": "ready"}}, "t", "1")
    assert video["video_status"] == "ready" and video["name"] == "Clip"
    conversion = map_custom_conversion(
        {"id": "9", "rule": {"url": {"i_contains": "thanks"}}, "pixel": {"id": "4"}}, "t", "1"
    )
    assert (
        conversion["rule"] == '{"url": {"i_contains": "thanks"}}' and conversion["pixel_id"] == "4"
    )
