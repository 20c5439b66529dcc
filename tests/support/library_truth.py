"""Compare the mirrored libraries and activity logs with the sandbox's ground truth.

Expectations are read from Meta's raw shapes here, independently of metasync's mapping.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from metasync.models import AdActivity, AdImage, AdVideo, CustomAudience, CustomConversion

__all__ = ["library_mismatches"]

# truth key -> (document, {document field: function of the raw object})
EXPECTED: dict[str, tuple[Any, dict[str, Any]]] = {
    "adimages": (
        AdImage,
        {
            "hash": lambda r: r["hash"],
            "status": lambda r: r["status"],
            "width": lambda r: r["width"],
            "height": lambda r: r["height"],
            "url": lambda r: r["url"],
            "creative_ids": lambda r: r["creatives"],
        },
    ),
    "advideos": (
        AdVideo,
        {
            "title": lambda r: r["title"],
            "length": lambda r: r["length"],
            "video_status": lambda r: r["status"]["video_status"],
            "picture": lambda r: r["picture"],
        },
    ),
    "customconversions": (
        CustomConversion,
        {
            "name": lambda r: r["name"],
            "custom_event_type": lambda r: r["custom_event_type"],
            "rule": lambda r: r["rule"],
            "default_conversion_value": lambda r: r["default_conversion_value"],
            "pixel_id": lambda r: r["pixel"]["id"],
            "is_archived": lambda r: r["is_archived"],
        },
    ),
    "customaudiences": (
        CustomAudience,
        {
            "name": lambda r: r["name"],
            "subtype": lambda r: r["subtype"],
            "approximate_count_lower_bound": lambda r: r["approximate_count_lower_bound"],
            "approximate_count_upper_bound": lambda r: r["approximate_count_upper_bound"],
            "delivery_status": lambda r: r["delivery_status"],
            "operation_status": lambda r: r["operation_status"],
            "created_time": lambda r: datetime.fromtimestamp(r["time_created"], UTC),
        },
    ),
}


def _check(problems: list[str], what: str, expected: Any, actual: Any) -> None:
    if expected != actual:
        problems.append(f"{what}: expected {expected!r}, found {actual!r}")


def library_mismatches(truth: dict[str, Any], tenant_of_account: dict[str, str]) -> list[str]:
    """Every difference between the truth's libraries and activities and MongoDB's; empty when
    equal (each live object once, every field above, every activity once)."""
    problems: list[str] = []
    tenants = sorted(set(tenant_of_account.values()))
    for key, (model, fields) in EXPECTED.items():
        wanted = {
            (tenant_of_account[o["account_id"]], o["id"]): o
            for o in truth[key]
            if o["account_id"] in tenant_of_account
        }
        live = {"tenant_id": {"$in": tenants}, "deleted_at": None}
        stored = {(d.tenant_id, d.meta_id): d for d in model.objects(__raw__=live)}
        _check(problems, f"{key} ids", sorted(wanted), sorted(stored))
        for where, raw in wanted.items():
            doc = stored.get(where)
            if doc is None:
                continue
            for name, expected in fields.items():
                value = getattr(doc, name)
                value = list(value) if isinstance(value, list) else value
                value = dict(value) if isinstance(value, dict) else value
                _check(problems, f"{key} {raw['id']} {name}", expected(raw), value)
    expected_events = sorted(
        (
            tenant_of_account[e["account_id"]],
            e["object_id"],
            e["event_type"],
            datetime.strptime(e["event_time"], "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC),
            json.loads(e["extra_data"]).get("new_value"),
            e["actor_name"],
        )
        for e in truth["activities"]
        if e["account_id"] in tenant_of_account
    )
    stored_events = sorted(
        (a.tenant_id, a.object_id, a.event_type, a.event_time, a.new_value, a.actor_name)
        for a in AdActivity.objects(tenant_id__in=tenants, account_id__in=list(tenant_of_account))
    )
    _check(problems, "activities (every event once)", expected_events, stored_events)
    return problems
