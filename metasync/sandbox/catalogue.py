"""Which field names the sandbox accepts, per node type: every field Meta documents.

The names come from the official ``facebook-business`` SDK's generated ``Field`` classes, kept in
``field_catalogue.json`` beside this module (regenerate with ``scripts/field_catalogue.py``). A
documented field the world does not model is accepted and comes back absent, as Meta leaves out
fields without a value; a name Meta does not document is refused with (#100) "Tried accessing
nonexisting field", as Meta does.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

__all__ = ["NODE_TYPES", "allowed_fields"]

NODE_TYPES = {
    "campaign": "AdCampaignGroup",
    "adset": "AdCampaign",
    "ad": "AdGroup",
    "adcreative": "AdCreative",
    "account": "AdAccount",
    "user": "User",
    "insights": "AdsInsights",
    "adimage": "AdImage",
    "advideo": "AdVideo",
    "customconversion": "CustomConversion",
    "customaudience": "CustomAudience",
    "activity": "AdActivity",
}
_USER_FIELDS = frozenset({"id", "name"})  # /me: the sandbox serves no other user fields


@cache
def _catalogue() -> dict[str, frozenset[str]]:
    raw = json.loads((Path(__file__).with_name("field_catalogue.json")).read_text())
    return {kind: frozenset(names) for kind, names in raw["fields"].items()}


def allowed_fields(kind: str) -> frozenset[str]:
    """Documented field names of ``kind`` (a key of :data:`NODE_TYPES`; ``user`` has only id
    and name here)."""
    if kind == "user":
        return _USER_FIELDS
    return _catalogue()[kind]
