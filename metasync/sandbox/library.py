"""The rest of an ad account: image and video libraries, custom conversions, custom audiences,
and the delivery signals of its campaigns, ad sets and ads.

Generated after the campaigns, ad sets and ads, from a random stream of its own per account
(``seed:library:account``), so adding it left every earlier object and number as it was. Shapes
follow Meta's reference pages and the ``facebook-business`` SDK's field lists:

- Ad images (``/act_{id}/adimages``): id ``<account id>:<hash>``, hash, name, url, url_128,
  permalink_url, width/height and the original ones, status (ACTIVE, INTERNAL, DELETED), the
  creatives that use it, created and updated time. One per image hash the creatives use, plus two
  the creatives do not use (one of them DELETED: Meta keeps listing deleted images).
- Ad videos (``/act_{id}/advideos``): id, title, length (seconds), status
  (``{"video_status": "ready"}``), picture (the thumbnail), permalink_url, created and updated
  time. One per video the creatives use, plus one unused.
- Custom conversions: rule (a JSON string, as Meta sends it), custom_event_type,
  default_conversion_value, pixel, archived and unavailable flags, times. Every account has a
  PURCHASE one whose count appears in the insights' actions as
  ``offsite_conversion.custom.<id>`` (``Library.purchase_actions``).
- Custom audiences: metadata only (name, subtype, approximate size bounds, delivery and
  operation status, retention, unix times as Meta sends them); there is no member data.
- Delivery signals: ``learning_stage_info`` on active ad sets (Meta returns it only for those)
  and ``recommendations`` on about a quarter of campaigns, ad sets and ads.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metasync.sandbox.world import World

__all__ = [
    "EDGE_KINDS",
    "Library",
    "custom_conversion_share",
    "generate_library",
]

# account edge -> (node kind in the field catalogue, the Library table it lists)
EDGE_KINDS = {
    "adimages": ("adimage", "images"),
    "advideos": ("advideo", "videos"),
    "customconversions": ("customconversion", "custom_conversions"),
    "customaudiences": ("customaudience", "custom_audiences"),
}
SUBTYPES = ("CUSTOM", "WEBSITE", "LOOKALIKE", "ENGAGEMENT")
RECOMMENDATIONS = (
    {
        "blame_field": "daily_budget",
        "code": 1772120,
        "confidence": "HIGH",
        "importance": "HIGH",
        "message": "Your ad set is limited by its budget. Raise it to get more results.",
        "title": "Budget limited",
    },
    {
        "blame_field": "targeting",
        "code": 1772103,
        "confidence": "MEDIUM",
        "importance": "MEDIUM",
        "message": "Your audience is narrow. Broaden it to lower your costs.",
        "title": "Audience too narrow",
    },
    {
        "blame_field": "creative",
        "code": 1772187,
        "confidence": "MEDIUM",
        "importance": "LOW",
        "message": "Your creative has been shown often to the same people.",
        "title": "Creative fatigue",
    },
)


@dataclass
class Library:
    """Per-account objects beside the campaign tree, each table keyed by the object's id."""

    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_conversions: dict[str, dict[str, Any]] = field(default_factory=dict)
    custom_audiences: dict[str, dict[str, Any]] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)  # every account's, any order
    # account -> the action type its PURCHASE custom conversion is reported under in insights
    purchase_actions: dict[str, str] = field(default_factory=dict)

    def listing(self, table: str, account_id: str) -> list[dict[str, Any]]:
        """One account's objects of a table, most recently updated first: Meta lists images
        and videos so (Airbyte's connector reads them as "reversed incremental" streams, and
        stops at the first one older than its state)."""
        objects = [o for o in getattr(self, table).values() if o["account_id"] == account_id]

        def updated(o: dict[str, Any]) -> str:
            stamp = o.get("updated_time") or o.get("creation_time") or o.get("time_updated")
            return f"{stamp:020d}" if isinstance(stamp, int) else str(stamp)

        return sorted(objects, key=lambda o: (updated(o), o["id"]), reverse=True)


def _unix(stamp: str) -> int:
    from datetime import datetime

    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp())


def custom_conversion_share(world: World, ad_id: str) -> float:
    """The share (0.5-0.9) of an ad's purchases its account's custom conversion also counts."""
    digest = hashlib.sha256(f"{world.seed}:custom:{ad_id}".encode()).digest()
    return 0.5 + 0.4 * int.from_bytes(digest[:4], "big") / 2**32


def generate_library(world: World) -> None:
    """Fill ``world.library`` and the delivery signals, after every account's campaign tree."""
    from metasync.sandbox.activity import history_of

    for account_id in world.accounts:
        rng = random.Random(f"{world.seed}:library:{account_id}")
        _images(world, rng, account_id)
        _videos(world, rng, account_id)
        _conversions(world, rng, account_id)
        _audiences(world, rng, account_id)
        _signals(world, rng, account_id)
        world.library.activities += history_of(world, account_id)


def _stamp(world: World, rng: random.Random, low: int, high: int) -> str:
    from metasync.sandbox.world import meta_time

    return meta_time(world.now - timedelta(days=rng.randrange(low, high), hours=rng.randrange(24)))


def _images(world: World, rng: random.Random, account_id: str) -> None:
    used: dict[str, list[str]] = {}
    for creative in world.edge(account_id, "adcreatives"):
        if creative.get("image_hash"):
            used.setdefault(creative["image_hash"], []).append(creative["id"])
    spare = [f"{rng.getrandbits(128):032x}" for _ in range(2)]
    for number, image_hash in enumerate([*sorted(used), *spare]):
        width, height = rng.choice(((1080, 1080), (1200, 628), (1080, 1920)))
        created = _stamp(world, rng, 60, 200)
        world.library.images[f"{account_id}:{image_hash}"] = {
            "id": f"{account_id}:{image_hash}",
            "account_id": account_id,
            "hash": image_hash,
            "name": f"image_{image_hash[:8]}.jpg",
            "url": f"https://cdn.example.com/img/{image_hash}.jpg",
            "url_128": f"https://cdn.example.com/img/128/{image_hash}.jpg",
            "permalink_url": f"https://www.facebook.com/ads/image/?d={image_hash}",
            "width": width,
            "height": height,
            "original_width": width * 2,
            "original_height": height * 2,
            "status": "DELETED" if image_hash == spare[-1] else "ACTIVE",
            "creatives": used.get(image_hash, []),
            "created_time": created,
            "updated_time": created if number % 3 else _stamp(world, rng, 1, 50),
        }


def _videos(world: World, rng: random.Random, account_id: str) -> None:
    used = sorted(
        {c["video_id"] for c in world.edge(account_id, "adcreatives") if c.get("video_id")}
    )
    spare = str(31_000_000_000 + int(account_id) % 1_000_000)
    for video_id in [*used, spare]:
        created = _stamp(world, rng, 60, 200)
        world.library.videos[video_id] = {
            "id": video_id,
            "account_id": account_id,
            "title": f"Video {video_id[-4:]}",
            "description": "Product showcase",
            "length": round(rng.uniform(6, 60), 2),
            "status": {"video_status": "ready", "processing_progress": 100},
            "picture": f"https://cdn.example.com/thumb/v{video_id}.jpg",
            "permalink_url": f"/{video_id}/",
            "created_time": created,
            "updated_time": created,
        }


def _conversions(world: World, rng: random.Random, account_id: str) -> None:
    from metasync.sandbox.world import meta_time

    events = ["PURCHASE", *rng.sample(("LEAD", "COMPLETE_REGISTRATION", "OTHER"), rng.randrange(2))]
    for event in events:
        conversion_id = world.new_id()
        created = world.now - timedelta(days=rng.randrange(100, 300))
        path = {"PURCHASE": "thank-you"}.get(event, event.lower().replace("_", "-"))
        world.library.custom_conversions[conversion_id] = {
            "id": conversion_id,
            "account_id": account_id,
            "name": f"{event.title().replace('_', ' ')} page {conversion_id[-4:]}",
            "description": f"Visits to /{path}",
            "custom_event_type": event,
            "rule": json.dumps({"url": {"i_contains": path}}, separators=(",", ":")),
            "default_conversion_value": rng.choice((0, 1000, 2500)),
            "event_source_type": "pixel",
            "pixel": {"id": str(40_000_000_000 + int(account_id) % 1_000_000)},
            "is_archived": False,
            "is_unavailable": False,
            "creation_time": meta_time(created),
            "first_fired_time": meta_time(created + timedelta(days=1)),
            "last_fired_time": meta_time(world.now - timedelta(hours=rng.randrange(1, 48))),
        }
        if event == "PURCHASE":
            action = f"offsite_conversion.custom.{conversion_id}"
            world.library.purchase_actions[account_id] = action


def _audiences(world: World, rng: random.Random, account_id: str) -> None:
    for _ in range(rng.randrange(1, 4)):
        audience_id = world.new_id()
        subtype = rng.choice(SUBTYPES)
        lower = rng.randrange(1_000, 2_000_000)
        created = int((world.now - timedelta(days=rng.randrange(30, 400))).timestamp())
        ready = rng.random() < 0.8
        world.library.custom_audiences[audience_id] = {
            "id": audience_id,
            "account_id": account_id,
            "name": f"{subtype.title()} audience {audience_id[-4:]}",
            "description": "",
            "subtype": subtype,
            "approximate_count_lower_bound": lower,
            "approximate_count_upper_bound": int(lower * 1.18),
            "delivery_status": (
                {"code": 200, "description": "This audience is ready for use."}
                if ready
                else {"code": 300, "description": "This audience is too small to use."}
            ),
            "operation_status": {"code": 200, "description": "Normal"},
            "retention_days": 180 if subtype == "WEBSITE" else 0,
            "time_created": created,
            "time_updated": created + rng.randrange(0, 86_400 * 20),
            "time_content_updated": created + rng.randrange(0, 86_400 * 20),
        }


def _signals(world: World, rng: random.Random, account_id: str) -> None:
    for kind in ("campaigns", "adsets", "ads"):
        for obj in world.edge(account_id, kind):
            obj["recommendations"] = (
                [dict(rng.choice(RECOMMENDATIONS))] if rng.random() < 0.25 else []
            )
            if kind == "adsets" and obj["effective_status"] == "ACTIVE":
                status = rng.choice(("LEARNING", "SUCCESS", "SUCCESS", "FAIL"))
                obj["learning_stage_info"] = {
                    "status": status,
                    "conversions": rng.randrange(0, 50) if status != "SUCCESS" else 50,
                    "last_sig_edit_ts": _unix(obj["updated_time"]),
                    "attribution_windows": ["7d_click", "1d_view"],
                }
