"""Writing leads read from Meta (a form's listing or one lead named by a webhook) into
``leads``: the answers sealed, the person's keyed hashes, the ad account looked up in the
mirror, one write number of the page's stream per page of leads.

Idempotent: leads are upserted by ``(tenant_id, lead_id)``, so the sync and the webhook may
both store the same lead (the later write numbers it again; its content is Meta's either way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import UpdateOne

from metasync.crypto import TokenCipher
from metasync.models import Ad, utcnow
from metasync.models.leads import Lead, lead_stream, person_hashes_of
from metasync.models.numbering import under_number

__all__ = ["LEAD_FIELDS", "parse_meta_time", "store_leads"]

# what the sync and the webhook ask Meta for each lead (Meta's "Retrieving Leads")
LEAD_FIELDS = "id,created_time,ad_id,adset_id,campaign_id,form_id,field_data,is_organic,platform"


def parse_meta_time(text: str) -> datetime:
    """Meta's ``2026-10-01T12:00:00+0000`` as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")


def _ad_accounts(tenant_id: str, ad_ids: set[str]) -> dict[str, str]:
    if not ad_ids:
        return {}
    found = Ad._get_collection().find(
        {"tenant_id": tenant_id, "meta_id": {"$in": sorted(ad_ids)}},
        {"meta_id": 1, "account_id": 1, "_id": 0},
    )
    return {str(d["meta_id"]): str(d.get("account_id") or "") for d in found}


def _document(
    cipher: TokenCipher,
    raw: Mapping[str, Any],
    *,
    tenant_id: str,
    connection_id: str,
    page_id: str,
    accounts: Mapping[str, str],
    via: str,
) -> dict[str, Any]:
    lead_id = str(raw["id"])
    field_data = [dict(item) for item in raw.get("field_data") or []]
    ad_id = str(raw.get("ad_id") or "")
    lead = Lead(lead_id=lead_id)
    lead.set_answers(cipher, field_data)
    return {
        "tenant_id": tenant_id,
        "connection_id": connection_id,
        "page_id": page_id,
        "form_id": str(raw.get("form_id") or ""),
        "lead_id": lead_id,
        "ad_id": ad_id,
        "adset_id": str(raw.get("adset_id") or ""),
        "campaign_id": str(raw.get("campaign_id") or ""),
        "ad_account_id": accounts.get(ad_id, ""),
        "created_time": parse_meta_time(str(raw["created_time"])),
        "is_organic": bool(raw.get("is_organic", not ad_id)),
        "platform": str(raw.get("platform") or ""),
        "answers_envelope": lead.answers_envelope,
        "answers_key_id": lead.answers_key_id,
        "person_hashes": person_hashes_of(cipher, field_data),
        "received_via": via,
        "account_id": lead_stream(page_id),
    }


def store_leads(
    cipher: TokenCipher,
    *,
    tenant_id: str,
    connection_id: str,
    page_id: str,
    raw_leads: Sequence[Mapping[str, Any]],
    via: str = "sync",
) -> int:
    """Upsert ``raw_leads`` (Meta's shape) of one page under one write number of the page's
    stream; returns how many. A lead's ``received_via`` keeps how it first arrived."""
    if not raw_leads:
        return 0
    ad_ids = {str(raw.get("ad_id")) for raw in raw_leads if raw.get("ad_id")}
    accounts = _ad_accounts(tenant_id, ad_ids)
    documents = [
        _document(
            cipher,
            raw,
            tenant_id=tenant_id,
            connection_id=connection_id,
            page_id=page_id,
            accounts=accounts,
            via=via,
        )
        for raw in raw_leads
    ]

    def write(seq: int) -> int:
        now = utcnow()
        operations = []
        for document in documents:
            via_first = document.pop("received_via")
            operations.append(
                UpdateOne(
                    {"tenant_id": tenant_id, "lead_id": document["lead_id"]},
                    {
                        "$set": {**document, "seq": seq, "synced_at": now},
                        "$setOnInsert": {"received_via": via_first},
                    },
                    upsert=True,
                )
            )
        Lead._get_collection().bulk_write(operations, ordered=False)
        return len(operations)

    return under_number(tenant_id, lead_stream(page_id), write)
