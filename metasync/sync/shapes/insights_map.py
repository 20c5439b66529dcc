"""Meta insights rows to ``DailyInsight`` rows.

Numbers arrive as strings; counts become integers and money and rates exact decimals (never
floats). Conversions and revenue come from ``actions`` / ``action_values``: the configured
action types are tried in order and the first one present in a row is used, because Meta reports
one purchase under several types (``purchase`` and ``offsite_conversion.fb_pixel_purchase``) and
adding them would double it. The raw lists are kept, and so are Meta's video metrics (lists of
``{"action_type": "video_view", "value": ...}``, :data:`VIDEO_FIELDS`), empty where Meta sent none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from metasync.graph.insights import VIDEO_FIELDS
from metasync.models import attribution_key, breakdown_key

__all__ = [
    "LEVEL_ID",
    "VIDEO_FIELDS",
    "decimal_of",
    "map_insight_row",
    "pick_action",
    "video_totals",
]

LEVEL_ID = {"account": "account_id", "campaign": "campaign_id", "adset": "adset_id", "ad": "ad_id"}


def decimal_of(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _count(value: Any) -> int | None:
    number = decimal_of(value)
    return int(number) if number is not None else None


def pick_action(
    actions: Sequence[Mapping[str, Any]] | None, types: Sequence[str], key: str = "value"
) -> Decimal:
    """``key`` (the setting's ``value``, or a window such as ``7d_click``) of the first of
    ``types`` present in ``actions``, summed over its entries (one per device when actions
    are broken down by device); 0 when none is present."""
    entries = [a for a in actions or [] if isinstance(a, Mapping)]
    for action_type in types:
        matching = [a for a in entries if str(a.get("action_type")) == action_type]
        if matching:
            return sum((decimal_of(a.get(key)) or Decimal(0) for a in matching), Decimal(0))
    return Decimal(0)


def _entries(value: Any) -> list[dict[str, Any]]:
    """A list field of Meta's (``AdsActionStats``) as plain dictionaries; [] when absent."""
    if not isinstance(value, list):
        return []
    return [dict(entry) for entry in value if isinstance(entry, Mapping)]


def video_totals(row: Any) -> dict[str, str]:
    """A stored daily row's video metrics (a document or a model), each its list's values
    summed, as decimal text; the lists Meta did not send (or sent empty) are left out."""
    totals: dict[str, str] = {}
    for name in VIDEO_FIELDS:
        entries = row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)
        read = [decimal_of(e.get("value")) for e in entries or [] if isinstance(e, Mapping)]
        if read and all(value is not None for value in read):
            totals[name] = str(sum((v for v in read if v is not None), Decimal(0)))
    return totals


def map_insight_row(
    raw: Mapping[str, Any],
    *,
    tenant_id: str,
    account_id: str,
    level: str,
    currency: str | None,
    conversion_types: Sequence[str],
    fetched_at: datetime,
    breakdown_names: Sequence[str] = (),
    attribution_windows: Sequence[str] = (),
) -> dict[str, Any]:
    entity = raw.get(LEVEL_ID[level]) or (account_id if level == "account" else None)
    breakdowns = {name: str(raw.get(name)) for name in breakdown_names}
    actions = [dict(a) for a in raw.get("actions") or [] if isinstance(a, Mapping)]
    values = [dict(a) for a in raw.get("action_values") or [] if isinstance(a, Mapping)]
    return {
        "tenant_id": tenant_id,
        "account_id": account_id,
        "level": level,
        "entity_id": str(entity) if entity is not None else None,
        "date": str(raw["date_start"]) if raw.get("date_start") else None,
        "breakdown_key": breakdown_key(breakdowns),
        "attribution_key": attribution_key(attribution_windows),
        "breakdowns": breakdowns,
        "campaign_id": raw.get("campaign_id"),
        "adset_id": raw.get("adset_id"),
        "ad_id": raw.get("ad_id"),
        "currency": currency,
        "impressions": _count(raw.get("impressions")),
        "clicks": _count(raw.get("clicks")),
        "inline_link_clicks": _count(raw.get("inline_link_clicks")),
        "reach": _count(raw.get("reach")),
        "frequency": decimal_of(raw.get("frequency")),
        "spend": decimal_of(raw.get("spend")),
        "ctr": decimal_of(raw.get("ctr")),
        "cpc": decimal_of(raw.get("cpc")),
        "cpm": decimal_of(raw.get("cpm")),
        "conversions": pick_action(actions, conversion_types),
        "revenue": pick_action(values, conversion_types),
        "actions": actions,
        "action_values": values,
        **{name: _entries(raw.get(name)) for name in VIDEO_FIELDS},
        "attribution_setting": (
            str(raw["attribution_setting"]) if raw.get("attribution_setting") else None
        ),
        "fetched_at": fetched_at,
    }
