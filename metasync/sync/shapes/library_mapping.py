"""Meta JSON of the library edges and the activity log to document rows.

Times: Meta's timestamps (``created_time``, ``event_time``) and, for custom audiences, unix
seconds (``time_created``) become aware UTC datetimes. Activities' ``extra_data`` is a JSON
string; its ``old_value``/``new_value`` are lifted out when it parses, and the string is kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from metasync.sync.shapes.mapping import parse_time

__all__ = [
    "activity_key",
    "map_activity",
    "map_custom_audience",
    "map_custom_conversion",
    "map_image",
    "map_video",
]


def _unix_time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None


def _base(raw: Mapping[str, Any], tenant_id: str, account_id: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "meta_id": str(raw["id"]),
        "account_id": str(raw.get("account_id") or account_id).removeprefix("act_"),
        "name": raw.get("name"),
    }


def map_image(raw: Mapping[str, Any], tenant_id: str, account_id: str) -> dict[str, Any]:
    return {
        **_base(raw, tenant_id, account_id),
        "status": raw.get("status"),
        "hash": raw.get("hash"),
        "url": raw.get("url"),
        "url_128": raw.get("url_128"),
        "permalink_url": raw.get("permalink_url"),
        "width": raw.get("width"),
        "height": raw.get("height"),
        "original_width": raw.get("original_width"),
        "original_height": raw.get("original_height"),
        "creative_ids": [str(c) for c in raw.get("creatives") or []],
        "created_time": parse_time(raw.get("created_time")),
        "updated_time": parse_time(raw.get("updated_time")),
    }


def map_video(raw: Mapping[str, Any], tenant_id: str, account_id: str) -> dict[str, Any]:
    status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
    return {
        **_base(raw, tenant_id, account_id),
        "name": raw.get("title"),
        "title": raw.get("title"),
        "description": raw.get("description"),
        "length": raw.get("length"),
        "video_status": status.get("video_status") if status else None,
        "status": status.get("video_status") if status else None,
        "picture": raw.get("picture"),
        "permalink_url": raw.get("permalink_url"),
        "created_time": parse_time(raw.get("created_time")),
        "updated_time": parse_time(raw.get("updated_time")),
    }


def map_custom_conversion(
    raw: Mapping[str, Any], tenant_id: str, account_id: str
) -> dict[str, Any]:
    pixel = raw.get("pixel") if isinstance(raw.get("pixel"), Mapping) else {}
    return {
        **_base(raw, tenant_id, account_id),
        "status": "ARCHIVED" if raw.get("is_archived") else "ACTIVE",
        "description": raw.get("description"),
        "custom_event_type": raw.get("custom_event_type"),
        "rule": raw.get("rule")
        if isinstance(raw.get("rule"), str)
        else json.dumps(raw.get("rule")),
        "default_conversion_value": raw.get("default_conversion_value"),
        "event_source_type": raw.get("event_source_type"),
        "pixel_id": str(pixel["id"]) if pixel and pixel.get("id") else None,
        "is_archived": bool(raw.get("is_archived")),
        "is_unavailable": bool(raw.get("is_unavailable")),
        "created_time": parse_time(raw.get("creation_time")),
        "first_fired_time": parse_time(raw.get("first_fired_time")),
        "last_fired_time": parse_time(raw.get("last_fired_time")),
    }


def map_custom_audience(raw: Mapping[str, Any], tenant_id: str, account_id: str) -> dict[str, Any]:
    operation = (
        raw.get("operation_status") if isinstance(raw.get("operation_status"), Mapping) else {}
    )
    delivery = raw.get("delivery_status") if isinstance(raw.get("delivery_status"), Mapping) else {}
    return {
        **_base(raw, tenant_id, account_id),
        "status": str(delivery.get("code")) if delivery else None,
        "description": raw.get("description"),
        "subtype": raw.get("subtype"),
        "approximate_count_lower_bound": raw.get("approximate_count_lower_bound"),
        "approximate_count_upper_bound": raw.get("approximate_count_upper_bound"),
        "delivery_status": dict(delivery or {}),
        "operation_status": dict(operation or {}),
        "retention_days": raw.get("retention_days"),
        "created_time": _unix_time(raw.get("time_created")),
        "updated_time": _unix_time(raw.get("time_updated")),
        "time_content_updated": _unix_time(raw.get("time_content_updated")),
    }


def activity_key(raw: Mapping[str, Any]) -> str:
    """A digest of what an activity says (Meta gives activities no id)."""
    parts = ("event_time", "event_type", "object_id", "actor_id", "extra_data")
    text = "\x1f".join(str(raw.get(name) or "") for name in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def map_activity(raw: Mapping[str, Any], tenant_id: str, account_id: str) -> dict[str, Any]:
    extra = raw.get("extra_data")
    try:
        parsed = json.loads(extra) if isinstance(extra, str) and extra else {}
    except ValueError:
        parsed = {}
    parsed = parsed if isinstance(parsed, Mapping) else {}
    return {
        "tenant_id": tenant_id,
        "meta_id": activity_key(raw),
        "account_id": account_id,
        "event_time": parse_time(raw.get("event_time")),
        "event_type": raw.get("event_type"),
        "translated_event_type": raw.get("translated_event_type"),
        "actor_id": str(raw["actor_id"]) if raw.get("actor_id") else None,
        "actor_name": raw.get("actor_name"),
        "application_id": str(raw["application_id"]) if raw.get("application_id") else None,
        "application_name": raw.get("application_name"),
        "object_id": str(raw["object_id"]) if raw.get("object_id") else None,
        "object_name": raw.get("object_name"),
        "object_type": raw.get("object_type"),
        "extra_data": extra if isinstance(extra, str) or extra is None else json.dumps(extra),
        "old_value": parsed.get("old_value"),
        "new_value": parsed.get("new_value"),
    }
