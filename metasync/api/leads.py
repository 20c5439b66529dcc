"""``/api/v1/lead-forms`` and ``/api/v1/leads``: a tenant's Lead Ads forms and leads, in pages.

**Who sees what.** A lead's answers are a person's data, so the lead routes need a scope of
their own, and the answers a second one:

- ``leads``: the forms, and each lead with where it came from (form, page, ad, ad set,
  campaign, ad account, time, organic or not, platform); ``answers`` is ``null``.
- ``leads`` and ``lead_answers``: the same, with each lead's answers (Meta's ``field_data``:
  ``[{"name", "values"}]``), opened for the answer and never stored or logged in clear.

A key with neither (``read`` only, the default) gets 403 naming the ``leads`` scope, so a
read-only key never reaches a lead. ``lead_answers`` without ``leads`` gives nothing: the
listing itself needs ``leads``.

Leads are listed by lead id (a stable order the unique index serves), filtered by form, page,
ad, ad set, campaign, ad account and ``created_time`` (``since`` inclusive, ``until``
exclusive, RFC 3339 with an offset).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from metasync.api.common import ApiProblem, decode_cursor, encode_cursor, scoped
from metasync.api.keys import Caller
from metasync.api.schemas import Page, Problem
from metasync.config import Settings
from metasync.crypto import CryptoError, TokenCipher
from metasync.models import Lead, LeadForm
from metasync.models.leads import lead_answers

__all__ = ["ANSWERS_SCOPE", "LEADS_SCOPE", "add_lead_routes"]

LEADS_SCOPE = "leads"
ANSWERS_SCOPE = "lead_answers"
ID = r"^\d{1,20}$"
# RFC 3339, the schema's date-time: a date, a time and an offset (pydantic alone would also
# take a number of seconds, or a day, which the schema does not allow)
RFC_3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _rfc_3339(value: Any) -> Any:
    if isinstance(value, str) and not RFC_3339.fullmatch(value):
        raise ValueError("a date-time with an offset is expected (2026-12-01T09:00:00Z)")
    return value


Moment = Annotated[datetime | None, BeforeValidator(_rfc_3339)]


class LeadFormOut(BaseModel):
    """A page's lead form and its questions (no personal data)."""

    id: str
    page_id: str
    name: str | None = None
    status: str | None = Field(None, description="Meta's: ACTIVE, ARCHIVED, ...")
    locale: str | None = None
    questions: list[dict[str, Any]] = Field(
        default_factory=list, description="Meta's order: key, label, type, options"
    )
    created_time: datetime | None = None


class LeadAnswerOut(BaseModel):
    name: str = Field(description="the question's key (Meta's field_data name)")
    values: list[str]


class LeadOut(BaseModel):
    """One lead: where it came from, and its answers for a key that may read them."""

    id: str
    form_id: str
    page_id: str
    ad_id: str | None = None
    adset_id: str | None = None
    campaign_id: str | None = None
    account_id: str | None = Field(None, description="the ad account; null for organic leads")
    created_time: datetime
    is_organic: bool
    platform: str | None = None
    answers: list[LeadAnswerOut] | None = Field(
        None, description="null unless the key has the lead_answers scope (personal data)"
    )


class FormFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_id: str | None = Field(None, pattern=ID)
    limit: int = Field(100, ge=1, le=500, description="items per page")
    cursor: str | None = Field(None, description="next_cursor of the previous page")


class LeadFilters(FormFilters):
    form_id: str | None = Field(None, pattern=ID)
    ad_id: str | None = Field(None, pattern=ID)
    adset_id: str | None = Field(None, pattern=ID)
    campaign_id: str | None = Field(None, pattern=ID)
    account_id: str | None = Field(None, pattern=ID, description="the ad account, without act_")
    since: Moment = Field(None, description="created at or after (RFC 3339, with an offset)")
    until: Moment = Field(None, description="created before (RFC 3339, with an offset)")


def _utc(name: str, moment: datetime | None) -> datetime | None:
    """``moment`` in UTC (without an offset: taken as UTC); 400 naming ``name`` when it cannot
    be (an offset that moves it past year 9999)."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ApiProblem(400, f"{name}: {moment.isoformat()} is out of range") from None


def _or_none(value: str | None) -> str | None:
    return value or None


def _lead(lead: Lead, answers: list[dict[str, Any]] | None) -> LeadOut:
    return LeadOut(
        id=lead.lead_id,
        form_id=lead.form_id,
        page_id=lead.page_id,
        ad_id=_or_none(lead.ad_id),
        adset_id=_or_none(lead.adset_id),
        campaign_id=_or_none(lead.campaign_id),
        account_id=_or_none(lead.ad_account_id),
        created_time=lead.created_time,
        is_organic=bool(lead.is_organic),
        platform=_or_none(lead.platform),
        answers=None if answers is None else [_answer(a) for a in answers],
    )


def _answer(item: dict[str, Any]) -> LeadAnswerOut:
    return LeadAnswerOut(
        name=str(item.get("name", "")), values=[str(v) for v in item.get("values") or []]
    )


def add_lead_routes(router: APIRouter, settings: Settings) -> None:
    """Register ``/lead-forms`` and ``/leads`` on ``router`` (the answers are opened with
    ``settings``' encryption keys, made at the first lead shown with them)."""
    ciphers: list[TokenCipher] = []

    def cipher() -> TokenCipher:
        if not ciphers:
            ciphers.append(
                TokenCipher(
                    settings.ENCRYPTION_KEY.get_secret_value(),
                    [key.get_secret_value() for key in settings.ENCRYPTION_OLD_KEYS],
                )
            )
        return ciphers[0]

    @router.get("/lead-forms", response_model=Page[LeadFormOut])
    def lead_forms(
        who: Annotated[Caller, scoped(LEADS_SCOPE)], filters: Annotated[FormFilters, Query()]
    ) -> Page[LeadFormOut]:
        """The tenant's lead forms with their questions, by id (the key needs ``leads``)."""
        query = LeadForm.objects(tenant_id=who.tenant_id)
        if filters.page_id:
            query = query.filter(page_id=filters.page_id)
        after = decode_cursor(filters.cursor, 1)
        if after:
            query = query.filter(form_id__gt=after[0])
        limit = filters.limit
        found = list(query.order_by("form_id").limit(limit + 1))
        data = [
            LeadFormOut(
                id=f.form_id,
                page_id=f.page_id,
                name=f.name,
                status=f.status,
                locale=f.locale,
                questions=[dict(q) for q in f.questions or []],
                created_time=f.created_time,
            )
            for f in found[:limit]
        ]
        more = encode_cursor([found[limit - 1].form_id]) if len(found) > limit else None
        return Page[LeadFormOut](data=data, next_cursor=more)

    @router.get("/leads", response_model=Page[LeadOut], responses={503: {"model": Problem}})
    def leads(
        who: Annotated[Caller, scoped(LEADS_SCOPE)], filters: Annotated[LeadFilters, Query()]
    ) -> Page[LeadOut]:
        """The tenant's leads by id, with the ad, ad set, campaign and form each came from;
        their answers only for a key that also has ``lead_answers`` (else ``null``)."""
        since, until = _utc("since", filters.since), _utc("until", filters.until)
        if since is not None and until is not None and since > until:
            raise ApiProblem(400, f"since: {since.isoformat()} is after until {until.isoformat()}")
        given = filters.model_dump(
            include={"page_id", "form_id", "ad_id", "adset_id", "campaign_id"}, exclude_none=True
        )
        query = Lead.objects(tenant_id=who.tenant_id, **given)
        if filters.account_id:
            query = query.filter(ad_account_id=filters.account_id)
        if since is not None:
            query = query.filter(created_time__gte=since)
        if until is not None:
            query = query.filter(created_time__lt=until)
        after = decode_cursor(filters.cursor, 1)
        if after:
            query = query.filter(lead_id__gt=after[0])
        limit = filters.limit
        found = list(query.order_by("lead_id").limit(limit + 1))
        more = encode_cursor([found[limit - 1].lead_id]) if len(found) > limit else None
        shown = ANSWERS_SCOPE in who.scopes
        data = []
        for lead in found[:limit]:
            try:
                answers = lead_answers(lead, cipher()) if shown else None
            except CryptoError:  # names the lead only: never an answer
                why = "its answers cannot be opened with the configured keys"
                hint = "a retired key missing from ENCRYPTION_OLD_KEYS?"
                raise ApiProblem(503, f"lead {lead.lead_id}: {why} ({hint})") from None
            data.append(_lead(lead, answers))
        return Page[LeadOut](data=data, next_cursor=more)
