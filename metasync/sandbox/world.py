"""The sandbox's synthetic world, generated deterministically from a seed and size parameters.

Objects are kept in Meta's own JSON shapes (what the Graph API returns with every field asked
for), so the server only has to select fields. The same seed, sizes and reference time always
give the same world: ids, names, statuses, budgets, targeting, creatives, and (see
:mod:`metasync.sandbox.metrics`) the same daily insights.

Tokens are fake (``sbx-...``) and say so; ids are numeric strings like Meta's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from metasync.sandbox import shapes
from metasync.sandbox.delivery import DeliveryChanges
from metasync.sandbox.leads import LeadBook, generate_leads
from metasync.sandbox.library import Library, generate_library

__all__ = [
    "SandboxUser",
    "World",
    "WorldSize",
    "generate_world",
    "meta_time",
]

CURRENCIES = (
    ("USD", "America/Los_Angeles"),
    ("EUR", "Europe/Berlin"),
    ("GBP", "Europe/London"),
    ("JPY", "Asia/Tokyo"),
    ("BRL", "America/Sao_Paulo"),
    ("USD", "America/New_York"),
)
OBJECTIVES = ("OUTCOME_SALES", "OUTCOME_TRAFFIC", "OUTCOME_LEADS", "OUTCOME_AWARENESS")
CTAS = ("SHOP_NOW", "LEARN_MORE", "SIGN_UP", "BUY_NOW", "ORDER_NOW")
INTERESTS = (
    ("6003107902433", "Online shopping"),
    ("6003139266461", "Fitness and wellness"),
    ("6003020834693", "Travel"),
    ("6003384248805", "Cooking"),
    ("6002714398372", "Music"),
)
COUNTRIES = ("US", "DE", "GB", "JP", "BR", "FR", "ES")
MIN_DAILY_BUDGET = {"JPY": 150, "KRW": 1000}  # minor units; other currencies 1.00 (100)
ISSUE = {
    "error_code": 1815869,
    "error_message": "Ad creative image is too small",
    "error_summary": "Image too small",
    "error_type": "HARD_ERROR",
    "level": "AD",
}


def meta_time(moment: datetime) -> str:
    """Meta's timestamp format: ``2026-10-01T12:00:00+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass(frozen=True)
class WorldSize:
    users: int = 2
    accounts_per_user: int = 2
    campaigns_per_account: int = 4
    adsets_per_campaign: int = 2
    ads_per_adset: int = 3
    days: int = 30  # days of insights before "today" (account time)
    # Lead Ads (metasync.sandbox.leads): none unless asked, so older worlds stay the same
    lead_forms_per_page: int = 0
    leads_per_form: int = 40


@dataclass
class SandboxUser:
    id: str
    name: str
    token: str
    token_expires_at: datetime
    account_ids: list[str]  # numeric, without "act_"
    business_id: str


@dataclass
class World:
    """Everything the sandbox serves. Object dicts are Meta's shapes, keyed by id."""

    seed: int
    size: WorldSize
    now: datetime  # the reference instant; accounts' "today" derives from it
    app_id: str
    users: dict[str, SandboxUser] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # key: numeric id
    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)
    adsets: dict[str, dict[str, Any]] = field(default_factory=dict)
    ads: dict[str, dict[str, Any]] = field(default_factory=dict)
    creatives: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per ad: first and last day (account time) it delivered; None last day = still delivering.
    delivery: dict[str, tuple[date, date | None]] = field(default_factory=dict)
    extra_days: dict[str, date] = field(default_factory=dict)  # account -> last day with data
    library: Library = field(default_factory=Library)  # images, videos, conversions, ...
    changes: DeliveryChanges = field(default_factory=DeliveryChanges)  # later writes' effect
    leads: LeadBook = field(default_factory=LeadBook)  # pages, lead forms and leads
    _next_id: int = 0

    def new_id(self) -> str:
        self._next_id += 1
        return str(23850000000000000 + self.seed * 1_000_000 + self._next_id)

    def account_today(self, account_id: str) -> date:
        zone = ZoneInfo(self.accounts[account_id]["timezone_name"])
        return self.now.astimezone(zone).date()

    def last_data_day(self, account_id: str) -> date:
        """The last day with insights for an account: yesterday, or today once added."""
        return self.extra_days.get(account_id, self.account_today(account_id) - timedelta(days=1))

    def first_data_day(self, account_id: str) -> date:
        return self.account_today(account_id) - timedelta(days=self.size.days)

    def owner_of(self, account_id: str) -> SandboxUser | None:
        return next((u for u in self.users.values() if account_id in u.account_ids), None)

    def object(self, object_id: str) -> tuple[str, dict[str, Any]] | None:
        """Find any object by id: (kind, object)."""
        for kind, table in (
            ("campaign", self.campaigns),
            ("adset", self.adsets),
            ("ad", self.ads),
            ("adcreative", self.creatives),
        ):
            if object_id in table:
                return kind, table[object_id]
        return None

    def edge(self, account_id: str, kind: str) -> list[dict[str, Any]]:
        """An account's objects of one kind, in a stable order (newest id first, like Meta)."""
        table = {
            "campaigns": self.campaigns,
            "adsets": self.adsets,
            "ads": self.ads,
            "adcreatives": self.creatives,
        }[kind]
        return sorted(  # a deleted object Meta stopped listing ("unlist") is left out
            (o for o in table.values() if o["account_id"] == account_id and not o.get("_unlisted")),
            key=lambda o: int(o["id"]),
            reverse=True,
        )


def _status(rng: random.Random) -> str:
    roll = rng.random()
    return (
        "ACTIVE"
        if roll < 0.65
        else "PAUSED"
        if roll < 0.82
        else "ARCHIVED"
        if roll < 0.91
        else "DELETED"
    )


def _inherit(parent_status: str, rng: random.Random) -> str:
    """A child's own status: deleting or archiving a parent does the same to its children."""
    if parent_status in ("DELETED", "ARCHIVED"):
        return parent_status
    roll = rng.random()
    return (
        "ACTIVE"
        if roll < 0.75
        else "PAUSED"
        if roll < 0.88
        else "ARCHIVED"
        if roll < 0.94
        else ("DELETED")
    )


def _effective(own: str, parent_effective: str | None, kind: str, rng: random.Random) -> str:
    if own in ("DELETED", "ARCHIVED"):
        return own
    if parent_effective in ("PAUSED", "CAMPAIGN_PAUSED") and own == "ACTIVE":
        return "CAMPAIGN_PAUSED" if kind == "adset" else "ADSET_PAUSED"
    if parent_effective in ("DELETED", "ARCHIVED") and own == "ACTIVE":
        return "CAMPAIGN_PAUSED" if kind == "adset" else "ADSET_PAUSED"
    if own == "ACTIVE" and kind == "ad":
        roll = rng.random()
        if roll < 0.05:
            return "DISAPPROVED"
        if roll < 0.10:
            return "PENDING_REVIEW"
        if roll < 0.13:
            return "WITH_ISSUES"
    if own == "ACTIVE" and kind != "ad" and rng.random() < 0.05:
        return "IN_PROCESS"
    return own


def _budget(rng: random.Random, currency: str) -> str:
    """A budget in the currency's minor units, as Meta sends it (JPY has none)."""
    major = rng.choice((20, 25, 50, 75, 100, 150, 300))
    return str(major * (100 if currency != "JPY" else 150))


def generate_world(
    seed: int,
    size: WorldSize | None = None,
    *,
    now: datetime | None = None,
    app_id: str = "100000000000001",
    token_days: int = 60,
) -> World:
    """Build the world for ``seed``. ``now`` fixes the reference instant (default: this hour)."""
    size = size or WorldSize()
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    world = World(seed=seed, size=size, now=moment, app_id=app_id)
    rng = random.Random(seed)
    for u in range(size.users):
        user_id = str(10_000_000 + seed * 1000 + u)
        business_id = str(20_000_000 + seed * 1000 + u)
        token = f"sbx-{seed}-{u}-{rng.getrandbits(64):016x}"
        user = SandboxUser(
            user_id,
            f"Sandbox User {u + 1}",
            token,
            moment + timedelta(days=token_days),
            [],
            business_id,
        )
        world.users[user_id] = user
        for a in range(size.accounts_per_user):
            account_id = str(900_000_000_000 + seed * 10_000 + u * 100 + a)
            user.account_ids.append(account_id)
            currency, timezone_name = CURRENCIES[(u * size.accounts_per_user + a) % len(CURRENCIES)]
            world.accounts[account_id] = {
                "id": f"act_{account_id}",
                "account_id": account_id,
                "name": f"Sandbox Account {u + 1}.{a + 1}",
                "currency": currency,
                "timezone_name": timezone_name,
                "account_status": 1,
                "min_daily_budget": MIN_DAILY_BUDGET.get(currency, 100),
                "amount_spent": str(rng.randrange(10_000, 5_000_000)),
                "business": {"id": business_id, "name": f"Sandbox Business {u + 1}"},
                "created_time": meta_time(moment - timedelta(days=400 + rng.randrange(300))),
            }
            _generate_account(world, rng, account_id, currency)
    generate_library(world)
    if size.lead_forms_per_page > 0:
        world.leads = generate_leads(world, size.lead_forms_per_page, size.leads_per_form)
    return world


def _generate_account(world: World, rng: random.Random, account_id: str, currency: str) -> None:
    size, moment = world.size, world.now
    today = world.account_today(account_id)
    for _ in range(size.campaigns_per_account):
        campaign_id = world.new_id()
        status = _status(rng)
        effective = _effective(status, None, "campaign", rng)
        created = moment - timedelta(days=size.days + rng.randrange(5, 60), hours=rng.randrange(24))
        campaign: dict[str, Any] = {
            "id": campaign_id,
            "account_id": account_id,
            "name": f"{rng.choice(('Spring', 'Summer', 'Autumn', 'Winter'))} "
            f"{rng.choice(('Sale', 'Launch', 'Retargeting', 'Brand'))} {campaign_id[-4:]}",
            "objective": rng.choice(OBJECTIVES),
            "buying_type": "AUCTION",
            "status": status,
            "configured_status": status,
            "effective_status": effective,
            "bid_strategy": "LOWEST_COST_WITHOUT_CAP",
            "special_ad_categories": [],
            "created_time": meta_time(created),
            "start_time": meta_time(created),
            "updated_time": meta_time(created + timedelta(days=rng.randrange(1, 5))),
            "issues_info": [],
        }
        if rng.random() < 0.5:
            campaign["daily_budget"] = _budget(rng, currency)
            campaign["budget_remaining"] = str(int(campaign["daily_budget"]) // 2)
        if status in ("ARCHIVED", "DELETED"):
            campaign["stop_time"] = meta_time(moment - timedelta(days=rng.randrange(2, 10)))
        shapes.campaign_type(campaign)
        world.campaigns[campaign_id] = campaign
        for _ in range(size.adsets_per_campaign):
            _generate_adset(world, rng, campaign, currency, today)


def _generate_adset(
    world: World, rng: random.Random, campaign: dict[str, Any], currency: str, today: date
) -> None:
    adset_id = world.new_id()
    status = _inherit(campaign["status"], rng)
    effective = _effective(status, campaign["effective_status"], "adset", rng)
    interests = rng.sample(INTERESTS, rng.randrange(0, 3))
    targeting: dict[str, Any] = {
        "age_min": rng.choice((18, 21, 25)),
        "age_max": rng.choice((45, 55, 65)),
        "genders": rng.choice(([1], [2], [1, 2])),
        "geo_locations": {
            "countries": sorted(rng.sample(COUNTRIES, rng.randrange(1, 3))),
            "location_types": ["home", "recent"],
        },
        "publisher_platforms": ["facebook", "instagram"],
        "facebook_positions": ["feed", "story"],
        "instagram_positions": ["stream", "story"],
    }
    if interests:
        targeting["flexible_spec"] = [{"interests": [{"id": i, "name": n} for i, n in interests]}]
    updated = _later(campaign["updated_time"], rng)
    adset: dict[str, Any] = {
        "id": adset_id,
        "account_id": campaign["account_id"],
        "campaign_id": campaign["id"],
        "name": f"Ad set {adset_id[-4:]} {targeting['geo_locations']['countries'][0]}",
        "status": status,
        "configured_status": status,
        "effective_status": effective,
        "billing_event": "IMPRESSIONS",
        "optimization_goal": rng.choice(("OFFSITE_CONVERSIONS", "LINK_CLICKS", "REACH")),
        "bid_amount": str(rng.randrange(50, 500)),
        "targeting": targeting,
        "attribution_spec": shapes.attribution_spec(adset_id),
        "created_time": campaign["created_time"],
        "start_time": campaign["start_time"],
        "updated_time": updated,
        "issues_info": [],
    }
    if "daily_budget" not in campaign:
        adset["daily_budget"] = _budget(rng, currency)
    world.adsets[adset_id] = shapes.adset_type(adset)
    for _ in range(world.size.ads_per_adset):
        _generate_ad(world, rng, adset, today)


def _generate_ad(world: World, rng: random.Random, adset: dict[str, Any], today: date) -> None:
    ad_id, creative_id = world.new_id(), world.new_id()
    status = _inherit(adset["status"], rng)
    effective = _effective(status, adset["effective_status"], "ad", rng)
    video = rng.random() < 0.3
    link = f"https://shop.example.com/p/{creative_id[-5:]}"
    cta = rng.choice(CTAS)
    creative: dict[str, Any] = {
        "id": creative_id,
        "account_id": adset["account_id"],
        "name": f"Creative {creative_id[-4:]}",
        "title": f"Great deal {creative_id[-3:]}",
        "body": "Limited offer. Free shipping today.",
        "call_to_action_type": cta,
        "status": "ACTIVE",
        "object_story_spec": {"page_id": "110000000000001"},
    }
    if video:
        creative["video_id"] = str(30_000_000_000 + int(creative_id[-6:]))
        creative["thumbnail_url"] = f"https://cdn.example.com/thumb/{creative_id}.jpg"
        creative["object_story_spec"]["video_data"] = {
            "video_id": creative["video_id"],
            "title": creative["title"],
            "message": creative["body"],
            "call_to_action": {"type": cta, "value": {"link": link}},
        }
    else:
        creative["image_hash"] = f"{rng.getrandbits(128):032x}"
        creative["image_url"] = f"https://cdn.example.com/img/{creative['image_hash']}.jpg"
        creative["object_story_spec"]["link_data"] = {
            "link": link,
            "message": creative["body"],
            "name": creative["title"],
            "image_hash": creative["image_hash"],
            "call_to_action": {"type": cta, "value": {"link": link}},
        }
    shapes.story_and_assets(creative, link, cta)
    world.creatives[creative_id] = creative
    ad: dict[str, Any] = {
        "id": ad_id,
        "account_id": adset["account_id"],
        "adset_id": adset["id"],
        "campaign_id": adset["campaign_id"],
        "name": f"Ad {ad_id[-4:]}",
        "status": status,
        "configured_status": status,
        "effective_status": effective,
        "creative": {"id": creative_id},
        "created_time": adset["created_time"],
        "updated_time": _later(adset["updated_time"], rng),
        "issues_info": [],
    }
    if effective in ("WITH_ISSUES", "DISAPPROVED"):
        ad["issues_info"] = [dict(ISSUE)]
    world.ads[ad_id] = shapes.review_feedback(ad)
    days = world.size.days
    start = today - timedelta(days=rng.randrange(max(1, days // 2), days + 1))
    stopped = status != "ACTIVE" or effective not in ("ACTIVE", "WITH_ISSUES")
    end = today - timedelta(days=rng.randrange(1, max(2, days // 3))) if stopped else None
    world.delivery[ad_id] = (start, end if end is None or end >= start else start)


def _later(meta_timestamp: str, rng: random.Random) -> str:
    moment = datetime.strptime(meta_timestamp, "%Y-%m-%dT%H:%M:%S%z")
    return meta_time(moment + timedelta(hours=rng.randrange(1, 72)))
