"""Video metrics of the sandbox: plays and how far they got, for ads whose creative is a video.

Meta's Ads Insights reference ("Insights API, Fields"): ``video_play_actions``,
``video_p25_watched_actions`` .. ``video_p100_watched_actions``,
``video_thruplay_watched_actions`` and ``video_avg_time_watched_actions`` are lists of
``AdsActionStats`` (``{"action_type": "video_view", "value": "<n>"}``); the average is seconds.
Counts are additive (plays, plays reaching 25/50/75/95/100 %, ThruPlays, seconds watched) and
consistent: p25 >= p50 >= p75 >= p95 >= p100, p100 <= ThruPlays <= plays; the average time
watched is derived from them at render, never summed. Only ads whose creative holds a video
(:func:`is_video_ad`) have them; Meta omits the fields on rows without video plays.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from metasync.sandbox.breakdowns import unit

__all__ = ["VIDEO_FIELDS", "is_video_ad", "render_video", "video_counts"]

MILESTONES = ("p25", "p50", "p75", "p95", "p100")
VIDEO_FIELDS = {
    "video_play_actions": "plays",
    **{f"video_{m}_watched_actions": m for m in MILESTONES},
    "video_thruplay_watched_actions": "thruplay",
}


def is_video_ad(creative: dict[str, Any] | None) -> bool:
    """Whether an ad's creative holds a video: ``video_data`` in its story, or videos in its
    asset feed (Meta's AdCreative reference)."""
    if not creative:
        return False
    story = creative.get("object_story_spec") or {}
    feed = creative.get("asset_feed_spec") or {}
    return "video_id" in creative or "video_data" in story or bool(feed.get("videos"))


def video_counts(
    seed: int, ad_id: str, day: date, impressions: int, *, video_ad: bool = True
) -> dict[str, int]:
    """An ad-day's video counts; empty for an ad whose creative holds no video."""
    if not video_ad:
        return {}

    def share(tag: str) -> float:
        return unit(seed, "video", tag, ad_id, day.isoformat())

    plays = int(impressions * (0.2 + 0.4 * share("plays")))
    counts = {"plays": plays}
    reached = plays
    for milestone in MILESTONES:
        reached = int(reached * (0.55 + 0.35 * share(milestone)))
        counts[milestone] = reached
    counts["thruplay"] = max(counts["p100"], int(plays * 0.3 * (0.5 + share("thruplay"))))
    counts["seconds"] = int(plays * (2 + 12 * share("seconds")))
    return counts


def render_video(counts: dict[str, int]) -> dict[str, Any]:
    """The video fields of a row (Meta's shape: lists of ``{"action_type": "video_view"}``)."""
    if not counts.get("plays"):
        return {}
    row: dict[str, Any] = {
        field: [{"action_type": "video_view", "value": str(counts[name])}]
        for field, name in VIDEO_FIELDS.items()
    }
    average = round(counts["seconds"] / counts["plays"])
    row["video_avg_time_watched_actions"] = [{"action_type": "video_view", "value": str(average)}]
    return row
