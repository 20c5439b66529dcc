"""Details of the sandbox world's objects decided by hash, not by the seeded draws (so adding
one never shifts the rest of a world): ad sets' attribution settings and creatives' posts, URL
tags and Advantage+ / dynamic asset feeds, and the v22-v25 object fields (Marketing API
changelogs v22.0-v25.0; shapes as the facebook-business SDK v26 names them): campaigns'
``advantage_state_info``, ad sets' ``placement_soft_opt_out``, ``regional_regulated_categories``
and ``targeting.targeting_automation``, creatives' ``degrees_of_freedom_spec`` and Instagram
ids (v22 names: ``instagram_user_id``, ``effective_instagram_media_id``,
``source_instagram_media_id``), and a disapproved ad's ``ad_review_feedback``."""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = [
    "ATTRIBUTION_SETTINGS",
    "adset_type",
    "attribution_setting",
    "attribution_spec",
    "campaign_type",
    "review_feedback",
    "story_and_assets",
]


# An ad set's unified attribution setting, as insights rows name it, and its attribution_spec.
ATTRIBUTION_SETTINGS: dict[str, list[dict[str, Any]]] = {
    "7d_click_1d_view": [
        {"event_type": "CLICK_THROUGH", "window_days": 7},
        {"event_type": "VIEW_THROUGH", "window_days": 1},
    ],
    "7d_click": [{"event_type": "CLICK_THROUGH", "window_days": 7}],
    "1d_click": [{"event_type": "CLICK_THROUGH", "window_days": 1}],
    "1d_click_1d_view": [
        {"event_type": "CLICK_THROUGH", "window_days": 1},
        {"event_type": "VIEW_THROUGH", "window_days": 1},
    ],
}


def _hashed(*parts: object) -> int:
    """A deterministic number from ``parts`` (decisions that must not shift the seeded draws)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def attribution_setting(adset_id: str) -> str:
    """The ad set's unified attribution setting (Meta applies it to every insights row)."""
    names = list(ATTRIBUTION_SETTINGS)
    return names[_hashed("attribution", adset_id) % len(names)]


def attribution_spec(adset_id: str) -> list[dict[str, Any]]:
    """The ad set's ``attribution_spec``: its setting's windows (event type, days)."""
    return ATTRIBUTION_SETTINGS[attribution_setting(adset_id)]


def campaign_type(campaign: dict[str, Any]) -> None:
    """The v23+ campaign fields: ``smart_promotion_type`` (``GUIDED_CREATION`` for a campaign
    built by hand; the legacy Advantage+ types are set through the control API) and, for a
    campaign whose ad sets hold the budgets, ``is_adset_budget_sharing_enabled`` (v24 requires
    it there; one such campaign in four shares)."""
    campaign["smart_promotion_type"] = "GUIDED_CREATION"
    advantage = _hashed("advantage", campaign["id"]) % 3 == 0
    campaign["advantage_state_info"] = {  # v23: read-only, what Advantage+ turned on
        "advantage_state": "ADVANTAGE_PLUS_SALES" if advantage else "DISABLED",
        "advantage_budget_state": "ENABLED" if campaign.get("daily_budget") else "DISABLED",
        "advantage_audience_state": "ENABLED",
        "advantage_placement_state": "ENABLED" if advantage else "DISABLED",
    }
    if not campaign.get("daily_budget") and not campaign.get("lifetime_budget"):
        campaign["is_adset_budget_sharing_enabled"] = _hashed("sharing", campaign["id"]) % 4 == 0


def story_and_assets(creative: dict[str, Any], link: str, cta: str) -> None:
    """The post a creative made, its URL tags, and (one creative in four) the shape of an
    Advantage+ / dynamic creative: no top-level title or body, an ``asset_feed_spec`` with
    lists of titles, bodies, links and images or videos instead (Meta's AdCreative reference,
    "Asset feed spec"). Decided by hash, so the seeded draws of the world do not shift."""
    page_id = creative["object_story_spec"]["page_id"]
    number = _hashed("creative", creative["id"])
    creative["object_story_id"] = f"{page_id}_{number % 10**15}"
    creative["effective_object_story_id"] = creative["object_story_id"]
    creative["url_tags"] = f"utm_source=facebook&utm_campaign={creative['id'][-6:]}"
    creative["instagram_user_id"] = "17841400000000001"
    creative["effective_instagram_media_id"] = f"1790{number % 10**13:013d}"
    creative["degrees_of_freedom_spec"] = {
        "creative_features_spec": {
            "standard_enhancements": {"enroll_status": "OPT_IN" if number % 3 else "OPT_OUT"}
        }
    }
    if number % 4:
        return
    title, body = creative.pop("title"), creative.pop("body")
    spec: dict[str, Any] = {
        "titles": [{"text": title}, {"text": f"{title}!"}],
        "bodies": [{"text": body}, {"text": "Order today."}],
        "link_urls": [{"website_url": link}],
        "call_to_action_types": [cta],
        "ad_formats": ["SINGLE_VIDEO" if "video_id" in creative else "SINGLE_IMAGE"],
    }
    if "video_id" in creative:
        spec["videos"] = [
            {"video_id": creative.pop("video_id"), "thumbnail_url": creative["thumbnail_url"]}
        ]
    else:
        spec["images"] = [{"hash": creative.pop("image_hash")}]
        creative.pop("image_url")
    creative["asset_feed_spec"] = spec
    creative["object_story_spec"] = {"page_id": page_id}


def adset_type(adset: dict[str, Any]) -> dict[str, Any]:
    """The v23/v24 ad set fields: Advantage+ audience (on by default since v23), up to 5 % of
    spend in excluded placements (one ad set in three opts out of that), and the regulated
    categories of one ad set in five. Returns ``adset``."""
    number = _hashed("adset", adset["id"])
    adset["targeting"]["targeting_automation"] = {"advantage_audience": 1 if number % 4 else 0}
    if number % 3 == 0:
        adset["placement_soft_opt_out"] = {"facebook_positions": ["right_hand_column"]}
    adset["regional_regulated_categories"] = ["TAIWAN_UNIVERSAL"] if number % 5 == 0 else []
    return adset


def review_feedback(ad: dict[str, Any]) -> dict[str, Any]:
    """A disapproved ad's ``ad_review_feedback``: the policy and Meta's reason, as Ads Manager
    shows them (Ad reference: ``{"global": {policy: reason}}``). Returns ``ad``."""
    if ad.get("effective_status") == "DISAPPROVED":
        ad["ad_review_feedback"] = {
            "global": {
                "Unrealistic outcomes": "Ads may not promise results that are unlikely or "
                "impossible, such as guaranteed earnings."
            }
        }
    return ad
