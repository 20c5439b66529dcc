"""Meta's video metrics and the lead and purchase action types Fivetran's dbt_facebook_ads
package reads, from the sandbox through the mirror into the warehouse (DuckDB)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from metasync.export import export_tenant
from metasync.export.destinations import schema_for
from metasync.graph.insights import VIDEO_FIELDS
from metasync.models import DailyInsight, MetaConnection
from tests.integration.export.test_export import querier
from tests.support.sandbox import Sandbox

# the action types the package's conversion columns read by default (dbt_project.yml,
# ``facebook_ads__conversion_action_types``) that the sandbox's ads produce
PACKAGE_TYPES = (
    "offsite_conversion.fb_pixel_purchase",
    "onsite_conversion.lead_grouped",
    "offsite_conversion.fb_pixel_lead",
)


@pytest.fixture
def world_seed() -> int:
    return 2  # the first user's accounts run lead, traffic and awareness campaigns, video ads


def _value(entries: list[dict[str, Any]] | None) -> float | None:
    return float(sum(float(e["value"]) for e in entries)) if entries else None


def _truth(world: Sandbox, connection: MetaConnection) -> dict[tuple[str, str], dict[str, Any]]:
    windows = world.truth()["windows"]
    report = {"level": "ad", "fields": ["impressions", "actions", *VIDEO_FIELDS]}
    return {
        (row["ad_id"], row["date_start"]): row
        for account in connection.ad_account_ids
        for row in world.report_truth(report, account, *windows[account])
    }


def test_video_metrics_and_package_conversions_reach_the_warehouse(
    world: Sandbox, synced_first: list[MetaConnection], tmp_path: Path
) -> None:
    (connection,) = synced_first
    truth = _truth(world, connection)
    # the sandbox: video metrics only for video ads, in order; leads where campaigns make them
    videos = {key: row for key, row in truth.items() if row.get("video_play_actions")}
    assert videos and len(videos) < len(truth)
    for row in videos.values():
        plays, thru, p25, p50, p75, p95, p100 = (
            _value(row[name]) or 0.0 for name in VIDEO_FIELDS[:7]
        )
        assert p100 <= thru <= plays and p25 >= p50 >= p75 >= p95 >= p100, row
        assert row["video_p25_watched_actions"][0]["action_type"] == "video_view"
    seen = {a["action_type"] for row in truth.values() for a in row.get("actions") or []}
    assert set(PACKAGE_TYPES) | {"lead"} <= seen

    # the mirror's daily rows keep Meta's lists
    ad_rows = {
        (d.entity_id, d.date): d
        for d in DailyInsight.objects(tenant_id=connection.tenant_id, level="ad", breakdown_key="")
    }
    for key, row in videos.items():
        assert ad_rows[key].video_thruplay_watched_actions == row["video_thruplay_watched_actions"]

    destination = f"duckdb:///{tmp_path}/warehouse.duckdb"
    export_tenant(connection.tenant_id, destination, batch_rows=200)
    query = querier(destination)
    schema = schema_for(connection.tenant_id)
    names = ", ".join(VIDEO_FIELDS)
    stored = {
        (ad_id, day.isoformat()): values
        for ad_id, day, *values in query(
            f"SELECT entity_id, date, {names} FROM {schema}.metasync_daily_insights "
            "WHERE level = 'ad'"
        )
    }
    for key, row in truth.items():
        expected = [_value(row.get(name)) for name in VIDEO_FIELDS]
        assert [None if v is None else float(v) for v in stored[key]] == expected, key

    # the package's conversion columns: basic_ad_actions by action type, as Meta counted them
    actions = {
        (str(ad_id), day.isoformat(), action_type): value
        for ad_id, day, action_type, value in query(
            f"SELECT ad_id, date, action_type, value FROM {schema}.basic_ad_actions"
        )
    }
    for action_type in (*PACKAGE_TYPES, "lead"):
        expected_counts = {
            (*key, action_type): float(entry["value"])
            for key, row in truth.items()
            for entry in row.get("actions") or []
            if entry["action_type"] == action_type
        }
        assert expected_counts, action_type
        found = {k: v for k, v in actions.items() if k[2] == action_type}
        assert found == expected_counts, action_type
