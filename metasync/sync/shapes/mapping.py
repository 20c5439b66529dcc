"""Meta JSON to document rows: what each mirrored field means and how it is converted.

- Times: Meta's ``2026-10-01T12:00:00+0000`` strings become timezone-aware UTC datetimes.
- Money: budgets, bids and ``amount_spent`` arrive as strings in the currency's minor units
  (cents); they are stored as exact decimals in the account currency. Currencies without minor
  units in Meta's API (offset 1, e.g. JPY, KRW) are kept as they are. (unverified: the offset list
  follows Meta's currency table as published; an unknown currency is assumed to have cents.)
- Statuses: ``status`` (the object's own, as configured), ``configured_status`` and
  ``effective_status`` (including inherited ones such as CAMPAIGN_PAUSED) are all kept.
- Targeting: the raw spec is kept, plus a summary (ages, genders, locations, interests,
  placements) that is easy to query.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "map_account",
    "map_ad",
    "map_adset",
    "map_campaign",
    "map_creative",
    "minor_units",
    "parse_time",
    "targeting_summary",
]

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND"}
)
GENDERS = {1: "male", 2: "female"}


def parse_time(value: Any) -> datetime | None:
    """Meta's timestamp (``%Y-%m-%dT%H:%M:%S%z``) as aware UTC; None when absent or unparsable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
    except ValueError:
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            return None


def minor_units(value: Any, currency: str | None) -> Decimal | None:
    """An amount in minor units (``"5050"``) as a decimal in the currency (``50.50``)."""
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    if currency and currency.upper() in ZERO_DECIMAL_CURRENCIES:
        return amount
    return amount.scaleb(-2)


def _common(raw: Mapping[str, Any], tenant_id: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "meta_id": str(raw["id"]),
        "account_id": str(raw.get("account_id", "")).removeprefix("act_"),
        "name": raw.get("name"),
        "status": raw.get("status"),
        "effective_status": raw.get("effective_status"),
        "created_time": parse_time(raw.get("created_time")),
        "updated_time": parse_time(raw.get("updated_time")),
        "issues_info": list(raw.get("issues_info") or []),
        "recommendations": list(raw.get("recommendations") or []),
    }


def map_account(raw: Mapping[str, Any], tenant_id: str, connection_id: str) -> dict[str, Any]:
    business = raw.get("business") if isinstance(raw.get("business"), Mapping) else {}
    currency = raw.get("currency")
    return {
        "tenant_id": tenant_id,
        "meta_id": str(raw["id"]) if str(raw["id"]).startswith("act_") else f"act_{raw['id']}",
        "account_id": str(raw.get("account_id") or str(raw["id"]).removeprefix("act_")),
        "connection_id": connection_id,
        "name": raw.get("name"),
        "currency": currency,
        "timezone_name": raw.get("timezone_name"),
        "account_status": raw.get("account_status"),
        "disable_reason": raw.get("disable_reason"),
        "amount_spent": minor_units(raw.get("amount_spent"), currency),
        "business_id": business.get("id") if business else None,
        "business_name": business.get("name") if business else None,
        "created_time": parse_time(raw.get("created_time")),
    }


def map_campaign(raw: Mapping[str, Any], tenant_id: str, currency: str | None) -> dict[str, Any]:
    return {
        **_common(raw, tenant_id),
        "objective": raw.get("objective"),
        "buying_type": raw.get("buying_type"),
        "configured_status": raw.get("configured_status"),
        "daily_budget": minor_units(raw.get("daily_budget"), currency),
        "lifetime_budget": minor_units(raw.get("lifetime_budget"), currency),
        "budget_remaining": minor_units(raw.get("budget_remaining"), currency),
        "bid_strategy": raw.get("bid_strategy"),
        "special_ad_categories": list(raw.get("special_ad_categories") or []),
        "start_time": parse_time(raw.get("start_time")),
        "stop_time": parse_time(raw.get("stop_time")),
        "smart_promotion_type": raw.get("smart_promotion_type"),
        "is_adset_budget_sharing_enabled": raw.get("is_adset_budget_sharing_enabled"),
        "advantage_state_info": dict(_mapping(raw.get("advantage_state_info"))),
    }


def targeting_summary(targeting: Mapping[str, Any] | None) -> dict[str, Any]:
    """Ages, genders, locations, interests and placements of an ad set's targeting spec."""
    if not targeting:
        return {}
    geo = targeting.get("geo_locations") or {}
    interests = [
        interest.get("name") or interest.get("id")
        for spec in targeting.get("flexible_spec") or []
        for interest in spec.get("interests") or []
    ]
    placements = [
        f"{platform}:{position}"
        for platform in targeting.get("publisher_platforms") or []
        for position in targeting.get(f"{platform}_positions") or []
    ] or list(targeting.get("publisher_platforms") or [])
    return {
        "age_min": targeting.get("age_min"),
        "age_max": targeting.get("age_max"),
        "genders": [GENDERS.get(g, str(g)) for g in targeting.get("genders") or []] or ["all"],
        "countries": list(geo.get("countries") or []),
        "regions": [r.get("name") or r.get("key") for r in geo.get("regions") or []],
        "cities": [c.get("name") or c.get("key") for c in geo.get("cities") or []],
        "interests": interests,
        "placements": placements,
    }


def map_adset(raw: Mapping[str, Any], tenant_id: str, currency: str | None) -> dict[str, Any]:
    targeting = raw.get("targeting") if isinstance(raw.get("targeting"), Mapping) else None
    return {
        **_common(raw, tenant_id),
        "campaign_id": raw.get("campaign_id"),
        "configured_status": raw.get("configured_status"),
        "daily_budget": minor_units(raw.get("daily_budget"), currency),
        "lifetime_budget": minor_units(raw.get("lifetime_budget"), currency),
        "bid_amount": minor_units(raw.get("bid_amount"), currency),
        "billing_event": raw.get("billing_event"),
        "optimization_goal": raw.get("optimization_goal"),
        "targeting": dict(targeting or {}),
        "targeting_summary": targeting_summary(targeting),
        "learning_stage_info": dict(raw.get("learning_stage_info") or {}),
        "attribution_spec": [dict(w) for w in raw.get("attribution_spec") or []],
        "start_time": parse_time(raw.get("start_time")),
        "end_time": parse_time(raw.get("end_time")),
        "placement_soft_opt_out": dict(_mapping(raw.get("placement_soft_opt_out"))),
        "regional_regulated_categories": list(raw.get("regional_regulated_categories") or []),
        "targeting_automation": dict(_mapping((targeting or {}).get("targeting_automation"))),
    }


def map_ad(raw: Mapping[str, Any], tenant_id: str) -> dict[str, Any]:
    creative = raw.get("creative") if isinstance(raw.get("creative"), Mapping) else {}
    return {
        **_common(raw, tenant_id),
        "campaign_id": raw.get("campaign_id"),
        "adset_id": raw.get("adset_id"),
        "creative_id": creative.get("id") if creative else None,
        "configured_status": raw.get("configured_status"),
        "ad_review_feedback": dict(_mapping(raw.get("ad_review_feedback"))),
    }


def _first(items: Any, key: str) -> Any:
    """``items[0][key]`` of an asset-feed list (``[{"text": ...}, ...]``), None when absent."""
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        return items[0].get(key)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def map_creative(raw: Mapping[str, Any], tenant_id: str, account_id: str) -> dict[str, Any]:
    """A creative; ``account_id`` is the account it was read under (Meta may omit the field).

    Title, body, link, image and video come from whichever spec carries them: the creative's
    own fields, its ``object_story_spec`` (``link_data`` or ``video_data``), or, for Advantage+
    and dynamic creatives, the first entry of each ``asset_feed_spec`` list (all of which are
    kept in ``asset_feed_spec``).
    """
    spec = _mapping(raw.get("object_story_spec"))
    feed = _mapping(raw.get("asset_feed_spec"))
    link_data, video_data = _mapping(spec.get("link_data")), _mapping(spec.get("video_data"))
    cta = _mapping(link_data.get("call_to_action")) or _mapping(video_data.get("call_to_action"))
    feed_ctas = feed.get("call_to_action_types")
    return {
        "tenant_id": tenant_id,
        "meta_id": str(raw["id"]),
        "account_id": str(raw.get("account_id") or account_id).removeprefix("act_"),
        "name": raw.get("name"),
        "status": raw.get("status"),
        "title": raw.get("title")
        or link_data.get("name")
        or video_data.get("title")
        or _first(feed.get("titles"), "text"),
        "body": raw.get("body")
        or link_data.get("message")
        or video_data.get("message")
        or _first(feed.get("bodies"), "text"),
        "image_url": raw.get("image_url"),
        "image_hash": raw.get("image_hash")
        or link_data.get("image_hash")
        or _first(feed.get("images"), "hash"),
        "video_id": raw.get("video_id")
        or video_data.get("video_id")
        or _first(feed.get("videos"), "video_id"),
        "thumbnail_url": raw.get("thumbnail_url") or _first(feed.get("videos"), "thumbnail_url"),
        "call_to_action_type": raw.get("call_to_action_type")
        or cta.get("type")
        or (feed_ctas[0] if isinstance(feed_ctas, list) and feed_ctas else None),
        "link_url": link_data.get("link")
        or _mapping(cta.get("value")).get("link")
        or _first(feed.get("link_urls"), "website_url"),
        "url_tags": raw.get("url_tags"),
        "object_story_id": raw.get("object_story_id"),
        "effective_object_story_id": raw.get("effective_object_story_id"),
        "object_story_spec": dict(spec),
        "asset_feed_spec": dict(feed),
        "degrees_of_freedom_spec": dict(_mapping(raw.get("degrees_of_freedom_spec"))),
        "instagram_user_id": raw.get("instagram_user_id"),
        "effective_instagram_media_id": raw.get("effective_instagram_media_id"),
        "source_instagram_media_id": raw.get("source_instagram_media_id"),
    }
