"""Parsing Meta's ad-account notifications into one :class:`Change` per change of each entry.

A Page's notifications (object ``page``) are parsed the same way: their entry id, in
``Change.account_id``, is then the page's id, and the one field acted on is ``leadgen``
(:mod:`metasync.leads.webhook`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["KNOWN_FIELDS", "Change", "PayloadError", "parse_notification"]

KNOWN_FIELDS = frozenset(
    {
        "with_issues_ad_objects",
        "in_process_ad_objects",
        "ad_recommendations",
        "creative_fatigue",
        "product_set_issue",
        "leadgen",  # a Page's (object "page"): a new lead, fetched and stored (metasync.leads)
    }
)
REFETCH_FIELDS = frozenset({"with_issues_ad_objects", "in_process_ad_objects", "leadgen"})


class PayloadError(ValueError):
    """The body is not a Meta notification; the message says what is wrong."""


@dataclass(frozen=True)
class Change:
    """One change: the ad account (entry id), when, which field, and its value."""

    account_id: str
    time: int
    field: str
    value: dict[str, Any]

    @property
    def dedupe_key(self) -> str:
        """Stable over Meta's re-deliveries of the same change."""
        canonical = json.dumps(
            [self.account_id, self.time, self.field, self.value],
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "time": self.time,
            "field": self.field,
            "value": self.value,
        }


def parse_notification(body: bytes) -> list[Change]:
    """All changes of all entries; raises :class:`PayloadError` on anything malformed."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("the body must be a JSON object")
    if data.get("object") not in ("ad_account", "page"):
        raise PayloadError("object must be 'ad_account' or 'page'")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("entry must be a list")
    changes: list[Change] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            raise PayloadError("each entry must be an object with a list of changes")
        account = str(entry.get("id") or "").removeprefix("act_")
        if not account.isdigit():
            raise PayloadError("each entry needs the numeric id of its ad account or page")
        try:
            when = int(entry.get("time") or 0)
        except (TypeError, ValueError):
            raise PayloadError("entry time must be a unix time") from None
        for change in entry["changes"]:
            if not isinstance(change, dict) or not isinstance(change.get("field"), str):
                raise PayloadError("each change needs a field name")
            value = change.get("value")
            changes.append(
                Change(
                    account,
                    when,
                    change["field"],
                    value if isinstance(value, dict) else {"value": value},
                )
            )
    return changes
