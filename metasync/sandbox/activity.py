"""An ad account's activity log (``/act_{id}/activities``): who changed what, and when.

Each entry is Meta's ``AdActivity`` shape: ``event_time``, ``event_type`` (Meta's names:
``create_campaign_group``, ``update_campaign_run_status``, ``update_ad_set_budget``, ...),
``translated_event_type``, the actor (``actor_id``, ``actor_name``), the application, the
object (``object_id``, ``object_name``, ``object_type``: ``CAMPAIGN_GROUP``, ``CAMPAIGN`` for an
ad set, ``ADGROUP`` for an ad, as Meta's internal names go) and ``extra_data``, a JSON *string*
with ``old_value`` and ``new_value``. The generated history holds each object's creation and,
for objects no longer active, the status change; every change made through the control API
(:mod:`metasync.sandbox.mutations`) adds its entry, so "who paused this campaign" has an answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metasync.sandbox.world import World

__all__ = ["history_of", "record"]

OBJECT_TYPES = {"campaign": "CAMPAIGN_GROUP", "adset": "CAMPAIGN", "ad": "ADGROUP"}
CREATE = {"campaign": "create_campaign_group", "adset": "create_ad_set", "ad": "create_ad"}
RUN_STATUS = {
    "campaign": "update_campaign_run_status",
    "adset": "update_ad_set_run_status",
    "ad": "update_ad_run_status",
}
FIELD_EVENTS = {
    ("campaign", "daily_budget"): "update_campaign_budget",
    ("campaign", "lifetime_budget"): "update_campaign_budget",
    ("campaign", "name"): "update_campaign_name",
    ("adset", "daily_budget"): "update_ad_set_budget",
    ("adset", "lifetime_budget"): "update_ad_set_budget",
    ("adset", "bid_amount"): "update_ad_set_bidding",
    ("adset", "name"): "update_ad_set_name",
    ("adset", "targeting"): "update_ad_set_target_spec",
    ("adset", "optimization_goal"): "update_ad_set_optimization_goal",
    ("ad", "name"): "update_ad_friendly_name",
}
TRANSLATED = {
    "create_campaign_group": "Campaign created",
    "create_ad_set": "Ad set created",
    "create_ad": "Ad created",
    "update_campaign_run_status": "Campaign status updated",
    "update_ad_set_run_status": "Ad set status updated",
    "update_ad_run_status": "Ad status updated",
    "update_campaign_budget": "Campaign budget updated",
    "update_ad_set_budget": "Ad set budget updated",
    "update_ad_set_bidding": "Ad set bid amount updated",
}
STATUS_WORDS = {"ACTIVE": "Active", "PAUSED": "Inactive", "ARCHIVED": "Archived"}


def _entry(
    world: World, kind: str, obj: dict[str, Any], event_type: str, stamp: str, extra: Any
) -> dict[str, Any]:
    owner = world.owner_of(obj["account_id"])
    return {
        "account_id": obj["account_id"],
        "actor_id": owner.id if owner else "",
        "actor_name": owner.name if owner else "",
        "application_id": "119211728144504",
        "application_name": "Ads Manager",
        "event_time": stamp,
        "event_type": event_type,
        "translated_event_type": TRANSLATED.get(event_type, event_type.replace("_", " ")),
        "object_id": obj["id"],
        "object_name": obj.get("name"),
        "object_type": OBJECT_TYPES[kind],
        "extra_data": json.dumps(extra, separators=(",", ":"), sort_keys=True),
    }


def _word(status: str) -> str:
    return STATUS_WORDS.get(status, status.title())


def history_of(world: World, account_id: str) -> list[dict[str, Any]]:
    """The generated log of one account: creations, then status changes of stopped objects."""
    entries = []
    for kind, edge in (("campaign", "campaigns"), ("adset", "adsets"), ("ad", "ads")):
        for obj in world.edge(account_id, edge):
            entries.append(_entry(world, kind, obj, CREATE[kind], obj["created_time"], {}))
            if obj["status"] != "ACTIVE":
                change = {"old_value": "Active", "new_value": _word(obj["status"])}
                entries.append(
                    _entry(world, kind, obj, RUN_STATUS[kind], obj["updated_time"], change)
                )
    return entries


def record(
    world: World,
    kind: str,
    obj: dict[str, Any],
    before: dict[str, Any],
    stamp: str,
) -> None:
    """Log what a mutation changed on ``obj`` (``before``: its fields before the change)."""
    if kind not in OBJECT_TYPES:
        return
    if before.get("status") != obj.get("status"):
        status = {"old_value": _word(before["status"]), "new_value": _word(obj["status"])}
        world.library.activities.append(_entry(world, kind, obj, RUN_STATUS[kind], stamp, status))
    for (event_kind, name), event_type in FIELD_EVENTS.items():
        if event_kind == kind and before.get(name) != obj.get(name):
            change: dict[str, Any] = {
                "old_value": before.get(name),
                "new_value": obj.get(name),
                "field": name,
            }
            world.library.activities.append(_entry(world, kind, obj, event_type, stamp, change))
