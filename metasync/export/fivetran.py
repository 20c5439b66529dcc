"""Mirror documents as rows of Fivetran's Facebook Ads tables, with the same meanings.

- ``basic_ad``: the ad-level daily rows without breakdowns; ``inline_link_clicks`` is Meta's
  field of that name (the package reads it as its clicks), ``clicks`` Meta's all-clicks.
- ``basic_ad_actions`` / ``_action_values``: one row per action type of an ad's day. ``value``
  is what the ad set's attribution setting counts (Meta's default); the window columns
  (``_1_d_view``, ``_7_d_click``, ...) hold the windows where the mirror read them.
- Histories: budgets in Meta's minor units (as Meta and Fivetran give them), ids as numbers.
- ``demographics_country`` / ``_region``: the prebuilt ``country`` / ``region`` reports (ad
  level) summed to the account. Reach and frequency stay empty there: people reached by two
  ads cannot be added up, and a wrong number is worse than none.

Documents are read as raw dictionaries (pymongo), not mongoengine objects, for speed. A value
that cannot be read as its column's number (text in a budget, a cost or a count, a fraction of
an impression, NaN in minor units) is not raised: it becomes
:class:`~metasync.export.values.Unconvertible` in that column, and the destination's checks
(:mod:`metasync.export.values`) set its one row aside, named, while the rest is written. A row
summed from several documents (``demographics_*``) is set aside when any of them holds one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from metasync.export.currency import Converter, reporting_columns
from metasync.export.numbers import (
    amount,
    as_date,
    as_float,
    integer,
    minor_units,
    number,
    spent,
    total,
)
from metasync.export.tables import TABLES
from metasync.export.values import Unconvertible

__all__ = [
    "action_rows",
    "basic_ad_row",
    "demographics_rows",
    "digest",
    "entity_row",
    "is_basic_ad_row",
    "number_id",
    "url_tag_rows",
]

WINDOWS = {
    "_1_d_view": "1d_view",
    "_1_d_click": "1d_click",
    "_7_d_click": "7d_click",
    "_28_d_click": "28d_click",
}


def number_id(value: Any) -> int | str | None:
    """A Meta id as a number (Fivetran's ids are integers); None when there is none. An id
    that is not a number (ASCII digits, after an ``act_`` prefix) stays text, so that its row
    is set aside and named (:mod:`metasync.export.values`) rather than written with no id."""
    if value is None or value == "":
        return None
    text = str(value).removeprefix("act_")
    return int(text) if text.isascii() and text.isdigit() else text


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:32]


def _offset_hours(zone: str | None, now: datetime) -> float | None:
    try:
        offset = now.astimezone(ZoneInfo(zone or "")).utcoffset()
    except (KeyError, ValueError):
        return None
    return offset.total_seconds() / 3600 if offset is not None else None


def entity_row(
    kind: str, doc: Mapping[str, Any], currency: str | None, synced: datetime
) -> tuple[Any, ...]:
    """The history row of one mirrored object (``kind``: account, campaign, adset, ad,
    creative), in its table's column order."""
    common = {
        "id": number_id(doc.get("meta_id")),
        "_fivetran_synced": synced,
        "account_id": number_id(doc.get("account_id")),
        "name": doc.get("name"),
        "status": doc.get("status"),
        "effective_status": doc.get("effective_status"),
        "created_time": doc.get("created_time"),
        "updated_time": doc.get("updated_time") or doc.get("first_seen_at"),
        "_metasync_deleted_at": doc.get("deleted_at"),
    }
    values: dict[str, Any] = {**common}
    if kind == "account":
        values.update(
            account_status=str(doc["account_status"])
            if doc.get("account_status") is not None
            else None,
            currency=doc.get("currency"),
            timezone_name=doc.get("timezone_name"),
            timezone_offset_hours_utc=_offset_hours(doc.get("timezone_name"), synced),
            business_id=doc.get("business_id"),
            business_name=doc.get("business_name"),
            amount_spent=amount(doc.get("amount_spent")),
            disable_reason=doc.get("disable_reason"),
        )
        table = TABLES["account_history"]
    elif kind == "creative":
        values.update(_creative_columns(doc))
        table = TABLES["creative_history"]
    else:
        for name in ("daily_budget", "lifetime_budget", "bid_amount"):
            values[name] = minor_units(doc.get(name), currency)
        values.update(
            campaign_id=number_id(doc.get("campaign_id")),
            ad_set_id=number_id(doc.get("adset_id")),
            creative_id=number_id(doc.get("creative_id")),
            budget_remaining=minor_units(doc.get("budget_remaining"), currency),
            start_time=doc.get("start_time"),
            stop_time=doc.get("stop_time"),
            end_time=doc.get("end_time"),
            objective=doc.get("objective"),
            buying_type=doc.get("buying_type"),
            bid_strategy=doc.get("bid_strategy"),
            smart_promotion_type=doc.get("smart_promotion_type"),
            optimization_goal=doc.get("optimization_goal"),
            billing_event=doc.get("billing_event"),
            **_v23_columns(doc),
        )
        table = TABLES[
            {"campaign": "campaign_history", "adset": "ad_set_history"}.get(kind, "ad_history")
        ]
    if table.versions:
        content = [
            values.get(n) for n in table.names if n not in ("_fivetran_synced", "_metasync_version")
        ]
        values["_metasync_version"] = digest(content)
    return tuple(values.get(name) for name in table.names)


def _v23_columns(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The v23-v25 fields of campaigns, ad sets and ads (metasync's own columns)."""
    return {
        "advantage_state": (doc.get("advantage_state_info") or {}).get("advantage_state"),
        "is_adset_budget_sharing_enabled": doc.get("is_adset_budget_sharing_enabled"),
        "advantage_audience": (doc.get("targeting_automation") or {}).get("advantage_audience"),
        "placement_soft_opt_out": doc.get("placement_soft_opt_out") or None,
        "regional_regulated_categories": doc.get("regional_regulated_categories") or None,
        "ad_review_feedback": doc.get("ad_review_feedback") or None,
    }


def _creative_columns(doc: Mapping[str, Any]) -> dict[str, Any]:
    spec = doc.get("object_story_spec") or {}
    link = spec.get("link_data") or {}
    feed = doc.get("asset_feed_spec") or {}
    links = [u.get("website_url") for u in feed.get("link_urls") or [] if isinstance(u, Mapping)]
    return {
        "_fivetran_id": str(doc.get("meta_id")),
        # where the ad sends people (Fivetran's meaning; its URL reports split it): the
        # story's link, else the mirror's link summary (a dynamic creative's first link)
        "page_link": link.get("link") or doc.get("link_url"),
        "template_page_link": (spec.get("template_data") or {}).get("link"),
        "url_tags": _tags(doc.get("url_tags")) or None,
        "asset_feed_spec_link_urls": links or None,
        "object_story_link_data_child_attachments": link.get("child_attachments"),
        "object_story_link_data_caption": link.get("caption"),
        "object_story_link_data_description": link.get("description"),
        "object_story_link_data_link": link.get("link") or doc.get("link_url"),
        "object_story_link_data_message": link.get("message"),
        "title": doc.get("title"),
        "body": doc.get("body"),
        "call_to_action_type": doc.get("call_to_action_type"),
        "instagram_user_id": doc.get("instagram_user_id"),
        "effective_instagram_media_id": doc.get("effective_instagram_media_id"),
        "source_instagram_media_id": doc.get("source_instagram_media_id"),
        "degrees_of_freedom_spec": doc.get("degrees_of_freedom_spec") or None,
    }


def _tags(url_tags: Any) -> list[dict[str, str]]:
    """Meta's ``url_tags`` (``utm_source=facebook&utm_medium=paid``) as Fivetran's list of
    ``{key, value, type}``."""
    pairs = parse_qsl(str(url_tags or ""), keep_blank_values=True)
    return [{"key": k, "value": v, "type": "url_tags"} for k, v in pairs]


def url_tag_rows(doc: Mapping[str, Any], synced: datetime) -> list[tuple[Any, ...]]:
    creative = number_id(doc.get("meta_id"))
    rows = []
    for tag in _tags(doc.get("url_tags")):
        values = {
            "_fivetran_id": digest(creative, tag["key"]),
            "creative_id": creative,
            "_fivetran_synced": synced,
            **tag,
        }
        rows.append(tuple(values.get(n) for n in TABLES["url_tag"].names))
    return rows


def _money_columns(
    spend: Any, currency: str | None, day: str, converter: Converter | None
) -> dict[str, Any]:
    read = amount(spend)
    readable = read if isinstance(read, Decimal) else None
    return {"spend": read, **reporting_columns(converter, currency, day, spend=readable)}


def is_basic_ad_row(doc: Mapping[str, Any]) -> bool:
    """An ad's daily row without breakdowns at the default attribution: ``basic_ad``'s."""
    return (
        doc["level"] == "ad"
        and not doc.get("breakdown_key")
        and doc.get("attribution_key", "default") == "default"
    )


def basic_ad_row(
    doc: Mapping[str, Any],
    names: Mapping[str, str | None],
    converter: Converter | None,
    synced: datetime,
) -> tuple[Any, ...]:
    """``basic_ad``'s row for one ad-level daily document; ``names``: ad and ad set names."""
    values = {
        "ad_id": doc["entity_id"],
        "date": as_date(doc["date"]),
        "account_id": number_id(doc["account_id"]),
        "ad_name": names.get(doc["entity_id"]),
        "adset_name": names.get(doc.get("adset_id") or ""),
        "impressions": integer(doc.get("impressions")),
        "inline_link_clicks": integer(doc.get("inline_link_clicks")),
        "clicks": integer(doc.get("clicks")),
        "reach": integer(doc.get("reach")),
        "frequency": as_float(doc.get("frequency")),
        "cpc": amount(doc.get("cpc")),
        "cpm": amount(doc.get("cpm")),
        "ctr": as_float(doc.get("ctr")),
        "currency": doc.get("currency"),
        "_fivetran_synced": synced,
        **_money_columns(doc.get("spend"), doc.get("currency"), doc["date"], converter),
    }
    return tuple(values.get(n) for n in TABLES["basic_ad"].names)


def _by_type(
    entries: Iterable[Mapping[str, Any]],
) -> dict[str, dict[str, Decimal | Unconvertible]]:
    """Entries summed per action type (one entry per device when broken down by device); a
    sum with an entry that is no number is that entry's :class:`Unconvertible`."""
    totals: dict[str, dict[str, Decimal | Unconvertible]] = {}
    for entry in entries:
        slot = totals.setdefault(str(entry.get("action_type")), {})
        for name in ("value", *WINDOWS.values()):
            held = slot.get(name, Decimal(0))
            if entry.get(name) in (None, "") or isinstance(held, Unconvertible):
                continue
            read = number(entry.get(name))
            if isinstance(read, Decimal):
                slot[name] = held + read
            elif read is not None:
                slot[name] = read
    return totals


def action_rows(
    table: str,
    parent: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    synced: datetime,
    rate: Decimal | None = None,
    windows: Sequence[Mapping[str, Any]] = (),
) -> list[tuple[Any, ...]]:
    """Child rows of one parent (``{ad_id, date}`` or ``{account_id, date, country}``) for
    ``table``; ``rate`` converts values into the reporting currency (action values only).
    ``windows``: entries of a read with attribution windows for the same parent (summed per
    action type), which fill the window columns where ``entries`` have none."""
    columns = TABLES[table].names
    extra = _by_type(windows)
    rows = []
    for index, (action_type, found) in enumerate(sorted(_by_type(entries).items())):
        slot = {**extra.get(action_type, {}), **found}
        values: dict[str, Any] = {
            **parent,
            "_fivetran_id": digest(*parent.values(), action_type),
            "action_type": action_type,
            "index": index,
            "value": as_float(slot.get("value")),
            "_fivetran_synced": synced,
        }
        for column, window in WINDOWS.items():
            values[column] = as_float(slot.get(window))
        value = slot.get("value")
        if rate is not None and isinstance(value, Decimal):
            values["value_reporting"] = float(value * rate)
        rows.append(tuple(values.get(n) for n in columns))
    return rows


def demographics_rows(
    place: str,
    docs: Sequence[Mapping[str, Any]],
    converter: Converter | None,
    synced: datetime,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """``demographics_<place>`` rows, their action rows and the parents re-read, from the
    ad-level report rows of whole (account, day) groups."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    parents = set()
    for doc in docs:
        where = str((doc.get("breakdowns") or {}).get(place))
        groups.setdefault((doc["account_id"], doc["span"], where), []).append(doc)
    rows, actions = [], []
    for (account, day, where), members in sorted(groups.items()):
        on = as_date(day)
        if not isinstance(on, Unconvertible):  # a day that is no date: its rows set aside
            parents.add((account, on, where))
        impressions = total(d.get("impressions") for d in members)
        link_clicks = total(d.get("inline_link_clicks") for d in members)
        spend = spent(d.get("spend") for d in members)
        currency = members[0].get("currency")
        values = {
            "_fivetran_id": digest(account, day, where),
            "account_id": account,
            "date": on,
            place: where,
            "impressions": impressions,
            "inline_link_clicks": link_clicks,
            **_ratios(spend, link_clicks, impressions),
            "_fivetran_synced": synced,
            **_money_columns(spend, currency, day, converter),
        }
        rows.append(tuple(values.get(n) for n in TABLES[f"demographics_{place}"].names))
        entries = [e for d in members for e in d.get("actions") or []]
        parent = {"account_id": account, "date": on, place: where}
        actions += action_rows(f"demographics_{place}_actions", parent, entries, synced)
    return rows, actions, sorted(parents)


def _ratios(
    spend: Decimal | Unconvertible,
    link_clicks: int | Unconvertible,
    impressions: int | Unconvertible,
) -> dict[str, Any]:
    """Cost per click and per thousand impressions, click rate (percent) of summed figures;
    none when a figure could not be read (its row is set aside) or divides by zero."""
    if not (
        isinstance(spend, Decimal) and isinstance(link_clicks, int) and isinstance(impressions, int)
    ):
        return {}
    per_click = (spend / link_clicks).quantize(Decimal("0.0001")) if link_clicks else None
    click_rate = link_clicks * 100 / impressions if impressions else None
    return {
        "cpc": per_click,
        "cpm": (spend * 1000 / impressions).quantize(Decimal("0.0001")) if impressions else None,
        "ctr": click_rate,
        "cost_per_inline_link_click": per_click,
        "inline_link_click_ctr": click_rate,
    }
