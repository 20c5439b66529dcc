"""The sandbox's Lead Ads: Facebook Pages with lead forms, and the leads people sent.

Modelled on Meta's pages "Lead Ads: Retrieving Leads" (Marketing API guides, leads read with a
Page access token through ``/{form-id}/leads``, each lead with ``ad_id``, ``adset_id``,
``campaign_id``, ``form_id``, ``is_organic``, ``platform`` and its answers in ``field_data``),
the Graph API's "Page Lead Forms" reference (``/{page-id}/leadgen_forms``, a form's
``questions`` with ``key``, ``label``, ``type`` and ``options``) and "Webhooks for Pages"
(``leadgen``: ``{"leadgen_id", "page_id", "form_id", "adgroup_id", "ad_id",
"created_time"}``).

A world has lead forms only when its size asks for them (``WorldSize.lead_forms_per_page``),
so the worlds and benchmarks that predate them are unchanged: the leads draw from their own
random stream, seeded from the world's seed. Every user manages one page; its leads come from
the ads of that user's accounts (one in ten organic: no ad, ad set or campaign). Answers are
clearly fake: ``example.com`` addresses and 555-01xx telephone numbers.

One world, one count of leads: a form's ads are the user's lead-objective ads
(``OUTCOME_LEADS``: Meta's instant forms belong to lead ads; the user's active ads, then any
of its ads, when it has none). A lead is given to an ad only on a day the ad delivered (the
day in its account's time zone, with clicks in the insights), and the insights count exactly
these leads as the ad-day's ``onsite_conversion.lead_grouped`` (and within ``lead``; see
``metasync.sandbox.metrics``), on the day the lead was sent. Meta's pages do not say on which
day an instant-form lead is reported; an instant form is filled in within the ad, so the
click's day and the lead's day are taken as one. :func:`lead_truth` gives the counts per ad
and per ad-day, which the insights of the same days equal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "LEAD_SCOPES",
    "LeadBook",
    "generate_leads",
    "lead_truth",
    "leadgen_notification",
    "new_leads",
]

# what reading forms and leads takes (Meta's "Retrieving Leads", "Before You Start")
LEAD_SCOPES = frozenset(
    {
        "leads_retrieval",
        "pages_manage_ads",
        "pages_show_list",
        "pages_read_engagement",
        "pages_manage_metadata",  # a page's webhook subscription
    }
)
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas")
LAST_NAMES = ("Archer", "Brandt", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Holm")
AREA_CODES = ("212", "312", "415", "617", "702")
BUDGET_OPTIONS = (
    {"key": "under_1000", "value": "Under $1,000"},
    {"key": "1000_5000", "value": "$1,000 to $5,000"},
    {"key": "over_5000", "value": "Over $5,000"},
)
ORGANIC_SHARE = 0.1


@dataclass
class LeadBook:
    """The world's pages (by id), forms (by id) and leads (by id), in Meta's shapes; a page's
    ``access_token`` is its Page access token and ``_owner`` the user who manages it."""

    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    leads: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_serial: int = 0
    # (ad id, day in the ad account's time zone, ISO) -> leads the ad produced that day
    by_ad_day: dict[tuple[str, str], int] = field(default_factory=dict)

    def ad_day_leads(self, ad_id: str, day: date) -> int:
        """The leads ``ad_id`` produced on ``day`` (its account's time zone): what the
        insights report as its instant-form leads that day."""
        return self.by_ad_day.get((ad_id, day.isoformat()), 0)

    def forms_of(self, page_id: str) -> list[dict[str, Any]]:
        return sorted(
            (f for f in self.forms.values() if f["page_id"] == page_id),
            key=lambda f: int(f["id"]),
            reverse=True,
        )

    def leads_of(self, form_id: str) -> list[dict[str, Any]]:
        """A form's leads, newest first (by ``created_time``, then id)."""
        return sorted(
            (lead for lead in self.leads.values() if lead["form_id"] == form_id),
            key=lambda lead: (lead["created_time"], int(lead["id"])),
            reverse=True,
        )


def _meta_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _questions() -> list[dict[str, Any]]:
    return [
        {"key": "full_name", "label": "Full name", "type": "FULL_NAME"},
        {"key": "email", "label": "Email", "type": "EMAIL"},
        {"key": "phone_number", "label": "Phone number", "type": "PHONE"},
        {
            "key": "budget",
            "label": "What is your monthly budget?",
            "type": "CUSTOM",
            "options": [dict(option) for option in BUDGET_OPTIONS],
        },
    ]


def generate_leads(world: Any, forms_per_page: int, leads_per_form: int) -> LeadBook:
    """Pages, forms and leads for ``world`` (a :class:`~metasync.sandbox.world.World`), from a
    random stream of their own. Lead times fall within the world's data window, up to an hour
    before its reference instant."""
    rng = random.Random(f"leads-{world.seed}")
    book = LeadBook()
    for position, user in enumerate(world.users.values()):
        page_id = str(110_000_000_000_000 + world.seed * 1000 + position + 1)
        book.pages[page_id] = {
            "id": page_id,
            "name": f"Sandbox Page {position + 1}",
            "category": "Local business",
            "access_token": f"sbx-page-{page_id}-{rng.getrandbits(48):012x}",
            "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MANAGE", "MODERATE"],
            "_owner": user.id,
        }
        everything = [ad for account_id in user.account_ids for ad in world.edge(account_id, "ads")]
        ads = (
            [ad for ad in everything if _objective(world, ad) == "OUTCOME_LEADS"]
            or [ad for ad in everything if ad.get("effective_status") == "ACTIVE"]
            or everything
        )
        for number in range(forms_per_page):
            form_id = world.new_id()
            created = world.now - timedelta(days=world.size.days + 5 + number)
            book.forms[form_id] = {
                "id": form_id,
                "name": f"Sandbox lead form {position + 1}.{number + 1}",
                "status": "ACTIVE",
                "locale": "en_US",
                "questions": _questions(),
                "created_time": _meta_time(created),
                "page_id": page_id,
                "page": {"id": page_id, "name": book.pages[page_id]["name"]},
                "_ads": [ad["id"] for ad in ads],
            }
            window = timedelta(days=world.size.days) - timedelta(hours=1)
            for _ in range(leads_per_form):
                moment = world.now - timedelta(hours=1) - rng.random() * window
                _add_lead(world, book, rng, form_id, moment)
    return book


def _objective(world: Any, ad: dict[str, Any]) -> str:
    return str((world.campaigns.get(str(ad.get("campaign_id"))) or {}).get("objective", ""))


def _ad_day_of(world: Any, ad_id: str, moment: datetime) -> date:
    """The day of ``moment`` in the time zone of ``ad_id``'s account."""
    account = world.accounts[world.ads[ad_id]["account_id"]]
    return moment.astimezone(ZoneInfo(account["timezone_name"])).date()


def _delivered(world: Any, ad_id: str, moment: datetime) -> bool:
    """Whether the ad had clicks on the day of ``moment`` (a lead is sent from an ad seen that
    day), within the account's days with data (today included)."""
    from metasync.sandbox.metrics import ad_day  # the insights import the world, which imports this

    account_id = world.ads[ad_id]["account_id"]
    day = _ad_day_of(world, ad_id, moment)
    if not world.first_data_day(account_id) <= day <= world.account_today(account_id):
        return False
    counts = ad_day(world, ad_id, day)
    return counts is not None and counts["clicks"] > 0


def _person(rng: random.Random, serial: int) -> list[dict[str, Any]]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    phone = f"+1{rng.choice(AREA_CODES)}5550{rng.randrange(100, 200)}"
    return [
        {"name": "full_name", "values": [f"{first} {last}"]},
        {"name": "email", "values": [f"{first}.{last}.{serial}@example.com".lower()]},
        {"name": "phone_number", "values": [phone]},
        {"name": "budget", "values": [rng.choice(BUDGET_OPTIONS)["key"]]},
    ]


def _add_lead(
    world: Any, book: LeadBook, rng: random.Random, form_id: str, moment: datetime
) -> dict[str, Any]:
    form = book.forms[form_id]
    book.next_serial += 1
    lead: dict[str, Any] = {
        "id": world.new_id(),
        "created_time": _meta_time(moment),
        "form_id": form_id,
        "field_data": _person(rng, book.next_serial),
        "is_organic": False,
        "platform": rng.choice(("fb", "fb", "ig")),
        "_page_id": form["page_id"],
    }
    served = []
    if form["_ads"] and rng.random() >= ORGANIC_SHARE:
        served = [ad_id for ad_id in form["_ads"] if _delivered(world, ad_id, moment)]
    if served:
        ad = world.ads[rng.choice(served)]
        campaign = world.campaigns[ad["campaign_id"]]
        adset = world.adsets[ad["adset_id"]]
        lead.update(
            {
                "ad_id": ad["id"],
                "ad_name": ad.get("name", ""),
                "adset_id": adset["id"],
                "adset_name": adset.get("name", ""),
                "campaign_id": campaign["id"],
                "campaign_name": campaign.get("name", ""),
            }
        )
        key = (ad["id"], _ad_day_of(world, ad["id"], moment).isoformat())
        book.by_ad_day[key] = book.by_ad_day.get(key, 0) + 1
    else:
        lead["is_organic"] = True
    book.leads[lead["id"]] = lead
    return lead


def new_leads(world: Any, form_id: str, count: int, now: datetime) -> list[dict[str, Any]]:
    """``count`` people send ``form_id`` at ``now`` (one second apart, the last at ``now``):
    the new leads."""
    book: LeadBook = world.leads
    rng = random.Random(f"new-leads-{world.seed}-{book.next_serial}")
    made = [
        _add_lead(world, book, rng, form_id, now - timedelta(seconds=count - 1 - n))
        for n in range(count)
    ]
    if any(lead.get("ad_id") for lead in made):
        world.changes.version += 1  # the insights' lead counts moved: rows cached are stale
    return made


def leadgen_notification(lead: dict[str, Any]) -> dict[str, Any]:
    """The Page webhook's ``leadgen`` change for ``lead`` (Meta's "Webhooks for Pages",
    ``leadgen``): ids only, never answers; ``created_time`` in unix seconds."""
    created = int(datetime.strptime(lead["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp())
    value: dict[str, Any] = {
        "leadgen_id": lead["id"],
        "page_id": lead["_page_id"],
        "form_id": lead["form_id"],
        "created_time": created,
    }
    if lead.get("ad_id"):
        value.update({"ad_id": lead["ad_id"], "adgroup_id": lead["ad_id"]})
    return {
        "object": "page",
        "entry": [
            {
                "id": lead["_page_id"],
                "time": created,
                "changes": [{"field": "leadgen", "value": value}],
            }
        ],
    }


def lead_truth(world: Any) -> dict[str, Any]:
    """How many leads each ad produced (in all, and per day in its account's time zone:
    ``by_ad_day``, what the insights' ``onsite_conversion.lead_grouped`` of that ad-day is),
    organic leads per form, and the total (ids only)."""
    book: LeadBook = world.leads
    by_ad: dict[str, int] = {}
    organic: dict[str, int] = {}
    for lead in book.leads.values():
        if lead.get("ad_id"):
            by_ad[lead["ad_id"]] = by_ad.get(lead["ad_id"], 0) + 1
        else:
            organic[lead["form_id"]] = organic.get(lead["form_id"], 0) + 1
    by_ad_day: dict[str, dict[str, int]] = {}
    for (ad_id, day), count in sorted(book.by_ad_day.items()):
        by_ad_day.setdefault(ad_id, {})[day] = count
    return {
        "by_ad": dict(sorted(by_ad.items())),
        "by_ad_day": by_ad_day,
        "organic_by_form": dict(sorted(organic.items())),
        "forms": sorted(book.forms),
        "pages": sorted(book.pages),
        "total": len(book.leads),
    }
