"""What the console's Lead Ads page of a tenant shows: each page leads are read from with its
access as Meta last stated it (and Meta's message when refused), its forms with how many leads
the mirror holds, and when each was last synced (no HTML here).

Nothing personal: a page is shown by its id and name, a form by its id, name and status, and
leads only as counts. The answers, the person hashes and the page tokens are never read here
(the queries name the fields they read). Costs: three queries per page view, whatever the
number of leads: the tenant's pages, their forms, and one ``$group`` count of the tenant's
leads by form (on the leads' ``tenant_id`` index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from metasync.health.reasons import LEADS_NOT_GRANTED_FIX
from metasync.models import aware
from metasync.models.leads import Lead, LeadAccessState, LeadForm, LeadPage

__all__ = ["LEADS_NOT_GRANTED_FIX", "LeadFormRow", "LeadPageRow", "tenant_leads"]


@dataclass(frozen=True)
class LeadFormRow:
    form_id: str
    name: str
    status: str
    leads: int
    synced_at: datetime | None


@dataclass(frozen=True)
class LeadPageRow:
    """A page as the console lists it; ``reason``: Meta's message when not granted."""

    page_id: str
    name: str
    connection_id: str
    access: str
    reason: str
    access_since: datetime | None
    checked_at: datetime | None
    forms_synced_at: datetime | None
    forms: list[LeadFormRow] = field(default_factory=list)

    @property
    def granted(self) -> bool:
        return self.access == LeadAccessState.GRANTED

    @property
    def leads(self) -> int:
        return sum(form.leads for form in self.forms)


def tenant_leads(tenant_id: str) -> list[LeadPageRow]:
    """The tenant's lead pages (refused ones first, then by page id), each with its forms."""
    counts = {
        str(row["_id"]): int(row["n"])
        for row in Lead._get_collection().aggregate(
            [
                {"$match": {"tenant_id": tenant_id}},
                {"$group": {"_id": "$form_id", "n": {"$sum": 1}}},
            ]
        )
    }
    forms: dict[tuple[str, str], list[LeadFormRow]] = {}
    for form in LeadForm.objects(tenant_id=tenant_id).only(
        "connection_id", "page_id", "form_id", "name", "status", "synced_at"
    ):
        forms.setdefault((form.connection_id, form.page_id), []).append(
            LeadFormRow(
                form.form_id,
                form.name or "",
                form.status or "",
                counts.get(form.form_id, 0),
                aware(form.synced_at),
            )
        )
    pages = [
        LeadPageRow(
            page.page_id,
            page.name or "",
            page.connection_id,
            page.access,
            page.access_reason or "",
            aware(page.access_since),
            aware(page.checked_at),
            aware(page.forms_synced_at),
            sorted(forms.get((page.connection_id, page.page_id), []), key=lambda f: f.form_id),
        )
        for page in LeadPage.objects(tenant_id=tenant_id).only(
            "connection_id",
            "page_id",
            "name",
            "access",
            "access_reason",
            "access_since",
            "checked_at",
            "forms_synced_at",
        )
    ]
    return sorted(pages, key=lambda p: (p.granted, p.page_id, p.connection_id))
