"""The Page webhook's ``leadgen`` change: fetch the lead it names and store it.

Meta's "Webhooks for Pages" (``leadgen``) sends ids only (``leadgen_id``, ``page_id``,
``form_id``, ``ad_id``, ``created_time``); the lead and its answers are read with the page's
token (``/{lead-id}``, Meta's "Retrieving Leads", "Webhooks"), for every tenant whose
connection manages the page with leads granted. A change for a page nobody reads leads from
is recorded, not an error. The webhook app has already verified the signature and set aside
re-deliveries; storing is an upsert by lead id, so a lead read again by the sync is harmless.
"""

from __future__ import annotations

import logging

from metasync.graph import PermissionDeniedError, TokenError
from metasync.leads.pages import describe_error, page_client, set_access
from metasync.leads.store import LEAD_FIELDS, store_leads
from metasync.models import ConnectionStatus, MetaConnection, WebhookEvent, WebhookStatus, utcnow
from metasync.models.leads import LeadAccessState, LeadPage
from metasync.sync.context import SyncContext
from metasync.webhooks.payload import Change

__all__ = ["LEADGEN", "process_leadgen"]

log = logging.getLogger(__name__)

LEADGEN = "leadgen"


def _record(key: str, status: str, detail: str) -> str:
    WebhookEvent.objects(dedupe_key=key).update(
        set__status=status, set__detail=detail, set__processed_at=utcnow()
    )
    return status


def process_leadgen(ctx: SyncContext, change: Change, key: str) -> str:
    """Store the lead one ``leadgen`` change names; returns the status recorded on its event.
    Meta errors other than a refused page token or permission propagate (the task retries)."""
    lead_id = str(change.value.get("leadgen_id") or "")
    page_id = str(change.value.get("page_id") or change.account_id)
    if not lead_id.isdigit() or not page_id.isdigit():
        return _record(key, WebhookStatus.IGNORED, "the change names no lead and page")
    pages = list(
        LeadPage.objects(page_id=page_id, access__ne=LeadAccessState.NOT_MANAGED).order_by(
            "tenant_id"
        )
    )
    stored = []
    for page in pages:
        connection = MetaConnection.objects(
            pk=page.connection_id, status=ConnectionStatus.ACTIVE
        ).first()
        if connection is None or page.tenant_id in stored:
            continue
        try:
            raw = page_client(ctx, connection, page).get(lead_id, {"fields": LEAD_FIELDS}).body
        except (PermissionDeniedError, TokenError) as exc:
            set_access(page, LeadAccessState.NOT_GRANTED, describe_error(exc))
            log.warning("lead %s of page %s not granted: %s", lead_id, page_id, describe_error(exc))
            continue
        store_leads(
            ctx.cipher,
            tenant_id=page.tenant_id,
            connection_id=page.connection_id,
            page_id=page_id,
            raw_leads=[raw],
            via="webhook",
        )
        stored.append(page.tenant_id)
    if not pages:
        return _record(
            key, WebhookStatus.UNKNOWN_ACCOUNT, f"no connection reads the leads of page {page_id}"
        )
    if not stored:
        return _record(key, WebhookStatus.FAILED, f"lead {lead_id} could not be read")
    return _record(
        key, WebhookStatus.PROCESSED, f"stored lead {lead_id} for {len(stored)} tenant(s)"
    )
