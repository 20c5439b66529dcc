"""Reading a connection's lead forms and leads: the scheduled sync and its backfill.

For each page of the connection (:func:`metasync.leads.pages.refresh_pages`), with the page's
token: its forms and their questions (``/{page-id}/leadgen_forms``), then each form's leads
(``/{form-id}/leads``) created after the form's cursor less :data:`OVERLAP`, filtered by
``time_created`` as Meta's "Retrieving Leads" describes; the cursor moves to the newest
``created_time`` read once every page of the listing is stored.

**Why an overlap.** Meta may make a lead readable a little after its ``created_time`` (the
webhook and the listing are separate paths), so a listing that ends at second T can miss a
lead created at T - 1 s that appears a moment later. Reading again :data:`OVERLAP` behind the
cursor closes that gap at the price of re-reading that window's leads (upserts by lead id:
harmless). A lead that appears later than the overlap is found by a backfill
(``full=True``: the whole form again), which ``metasync leads sync --full`` runs.

**Permissions.** Meta refuses forms without ``pages_manage_ads`` and leads without
``leads_retrieval`` (code 200, or 10). That is recorded on the page (:class:`LeadPage`
``access = not_granted`` with Meta's message), shown by ``metasync leads pages``, and the
sync goes on with the other pages and forms; entity and performance syncs never depend on it.
A token Meta refuses (190) for one page marks that page only, never the connection.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from metasync.graph import MetaAPIError, PermissionDeniedError, TokenError
from metasync.graph.paging import iter_pages
from metasync.leads.pages import describe_error, page_client, refresh_pages, set_access
from metasync.leads.store import LEAD_FIELDS, parse_meta_time, store_leads
from metasync.models import MetaConnection, aware, utcnow
from metasync.models.leads import LeadAccessState, LeadForm, LeadPage
from metasync.sync.context import SyncContext

__all__ = ["OVERLAP", "LeadSyncResult", "sync_leads"]

log = logging.getLogger(__name__)

OVERLAP = timedelta(hours=1)
FORM_FIELDS = "id,name,status,locale,questions,created_time"
PAGE_SIZE = 100


@dataclass
class LeadSyncResult:
    """What one lead sync did: pages, forms, leads stored, and pages refused (ids only)."""

    pages: int = 0
    forms: int = 0
    leads: int = 0
    not_granted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "pages": self.pages,
            "forms": self.forms,
            "leads": self.leads,
            "not_granted": self.not_granted,
            "errors": self.errors,
        }


def _questions(raw: Any) -> list[dict[str, Any]]:
    """A form's questions as stored: key, label, type and options (key, value) only."""
    questions: list[dict[str, Any]] = []
    for item in raw or []:
        options = item.get("options") or []
        questions.append(
            {
                "key": str(item.get("key") or ""),
                "label": str(item.get("label") or ""),
                "type": str(item.get("type") or ""),
                "options": [
                    {"key": str(o.get("key") or ""), "value": str(o.get("value") or "")}
                    for o in options
                    if isinstance(o, dict)
                ],
            }
        )
    return questions


def _store_form(connection: MetaConnection, page: LeadPage, raw: dict[str, object]) -> LeadForm:
    tenant_id = connection.tenant_id
    form = LeadForm.objects(tenant_id=tenant_id, form_id=str(raw["id"])).first() or LeadForm(
        tenant_id=tenant_id, form_id=str(raw["id"])
    )
    form.connection_id = str(connection.pk)
    form.page_id = page.page_id
    form.name = str(raw.get("name") or "")
    form.status = str(raw.get("status") or "")
    form.locale = str(raw.get("locale") or "")
    form.questions = _questions(raw.get("questions"))
    created = raw.get("created_time")
    form.created_time = parse_meta_time(str(created)) if created else None
    form.synced_at = utcnow()
    form.save()
    return form


def _sync_form(
    ctx: SyncContext, connection: MetaConnection, page: LeadPage, form: LeadForm, full: bool
) -> int:
    client = page_client(ctx, connection, page)
    params: dict[str, object] = {"fields": LEAD_FIELDS}
    cursor = form.leads_cursor
    if cursor is not None and not full:
        since = int((_aware(cursor) - OVERLAP).timestamp())
        params["filtering"] = json.dumps(
            [{"field": "time_created", "operator": "GREATER_THAN", "value": since}]
        )
    newest: datetime | None = None
    stored = 0
    for listing_page in iter_pages(client, f"{form.form_id}/leads", params, limit=PAGE_SIZE):
        items = listing_page.items
        stored += store_leads(
            ctx.cipher,
            tenant_id=connection.tenant_id,
            connection_id=str(connection.pk),
            page_id=page.page_id,
            raw_leads=items,
        )
        for item in items:
            created = parse_meta_time(str(item["created_time"]))
            newest = created if newest is None or created > newest else newest
    if newest is not None:
        moved = newest if cursor is None else max(newest, _aware(cursor))
        LeadForm.objects(pk=form.pk).update_one(set__leads_cursor=moved, set__synced_at=utcnow())
    return stored


def _aware(moment: datetime) -> datetime:
    return aware(moment) or moment


def _sync_page(
    ctx: SyncContext,
    connection: MetaConnection,
    page: LeadPage,
    full: bool,
    result: LeadSyncResult,
) -> None:
    client = page_client(ctx, connection, page)
    forms = [
        _store_form(connection, page, raw)
        for listing_page in iter_pages(
            client, f"{page.page_id}/leadgen_forms", {"fields": FORM_FIELDS}
        )
        for raw in listing_page.items
    ]
    LeadPage.objects(pk=page.pk).update_one(set__forms_synced_at=utcnow())
    result.forms += len(forms)
    for form in forms:
        result.leads += _sync_form(ctx, connection, page, form, full)


def sync_leads(
    ctx: SyncContext, connection: MetaConnection, *, full: bool = False
) -> LeadSyncResult:
    """Read every page's forms and new leads of ``connection`` (``full``: every lead of every
    form again, the backfill). A page Meta refuses is recorded and skipped."""
    result = LeadSyncResult()
    try:
        pages = refresh_pages(ctx, connection)
    except MetaAPIError as exc:
        log.warning("lead pages of connection %s not read: %s", connection.pk, describe_error(exc))
        result.errors.append(describe_error(exc))
        return result
    for page in pages:
        result.pages += 1
        try:
            _sync_page(ctx, connection, page, full, result)
        except (PermissionDeniedError, TokenError) as exc:
            set_access(page, LeadAccessState.NOT_GRANTED, describe_error(exc))
            result.not_granted.append(page.page_id)
            log.warning(
                "leads of page %s (connection %s) not granted: %s",
                page.page_id,
                connection.pk,
                describe_error(exc),
            )
            continue
        if page.access != LeadAccessState.GRANTED:
            set_access(page, LeadAccessState.GRANTED)
    return result
