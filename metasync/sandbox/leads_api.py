"""The sandbox's Lead Ads reads: pages and their tokens, lead forms, leads.

Following Meta's pages "Lead Ads: Retrieving Leads" (Marketing API guides), "Page Lead Forms"
(Graph API reference, ``/{page-id}/leadgen_forms``), "Lead" (``/{lead-id}``) and "Page
Access Tokens" (``/me/accounts``, ``/{page-id}?fields=access_token``), the stricter reading
where they leave room:

- ``/me/accounts`` (a user token): the pages the person manages, each with its Page access
  token. ``/{page-id}?fields=access_token`` gives the same token to the page's manager.
- ``/{page-id}/leadgen_forms``, ``/{form-id}/leads``: a Page access token of that page only
  (a user token is refused with code 190, "must be called with a Page Access Token").
- Reading forms needs ``pages_manage_ads``; reading leads needs ``leads_retrieval`` and
  ``pages_manage_ads`` as well: without them, ``(#200) Requires <permission> permission to
  manage the object``. A Page token carries what its person granted.
- ``/{form-id}/leads`` takes ``filtering=[{"field": "time_created", "operator":
  "GREATER_THAN" | "LESS_THAN", "value": <unix seconds>}]``; any other filter is (#100).
  Leads come newest first, in pages with cursors like every other listing.
- Without ``fields``: a lead is ``created_time,id,field_data``; a form ``id,name,status,
  locale``; a page ``id,name``. An unknown field is (#100).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from metasync.sandbox.errors import GraphError, not_found
from metasync.sandbox.leads import LeadBook
from metasync.sandbox.listing import paginate
from metasync.sandbox.query import parse_filtering
from metasync.sandbox.state import SandboxState, TokenRecord

__all__ = ["owns", "read"]

PAGE_FIELDS = ("id", "name", "category", "access_token", "tasks")
FORM_FIELDS = ("id", "name", "status", "locale", "questions", "created_time", "page")
LEAD_FIELDS = (
    "id",
    "created_time",
    "ad_id",
    "ad_name",
    "adset_id",
    "adset_name",
    "campaign_id",
    "campaign_name",
    "form_id",
    "field_data",
    "is_organic",
    "platform",
)
DEFAULTS = {
    "page": "id,name",
    "form": "id,name,status,locale",
    "lead": "created_time,id,field_data",
}
ALLOWED = {"page": PAGE_FIELDS, "form": FORM_FIELDS, "lead": LEAD_FIELDS}


def owns(state: SandboxState, head: str, edge: str | None) -> bool:
    """Whether the path is a Lead Ads read (only in a world with lead forms)."""
    book: LeadBook = state.world.leads
    if not book.pages:
        return False
    if head == "me":
        return edge == "accounts"
    return head in book.pages or head in book.forms or head in book.leads


def _select(obj: Mapping[str, Any], kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    wanted = [f.strip() for f in str(params.get("fields") or DEFAULTS[kind]).split(",")]
    chosen: dict[str, Any] = {}
    for name in (w.split("{", 1)[0] for w in wanted if w):
        if name not in ALLOWED[kind]:
            raise GraphError(
                400,
                100,
                f"(#100) Tried accessing nonexisting field ({name}) on node type "
                f"({'LeadgenForm' if kind == 'form' else kind.title()})",
                error_type="GraphMethodException",
            )
        if name in obj:
            chosen[name] = obj[name]
    chosen.setdefault("id", obj["id"])
    return chosen


def _missing(permission: str) -> GraphError:
    return GraphError(400, 200, f"(#200) Requires {permission} permission to manage the object")


def _granted(state: SandboxState, record: TokenRecord) -> frozenset[str]:
    """What the token's person granted: a Page token carries its person's user grant."""
    if not record.page_id:
        return record.scopes
    user = state.world.users.get(record.user_id)
    person = state.tokens.get(user.token) if user is not None else None
    return person.scopes if person is not None else frozenset()


def _need(state: SandboxState, record: TokenRecord, *permissions: str) -> None:
    granted = _granted(state, record)
    for permission in permissions:
        if permission not in granted:
            raise _missing(permission)


def _page_token_of(record: TokenRecord, page_id: str) -> None:
    if not record.page_id:
        raise GraphError(400, 190, "(#190) This method must be called with a Page Access Token")
    if record.page_id != page_id:
        raise GraphError(
            400, 200, "(#200) The Page access token does not belong to this object's page"
        )


def _manager(state: SandboxState, record: TokenRecord, page: Mapping[str, Any]) -> None:
    if page["_owner"] != record.user_id:
        raise not_found(page["id"])


def _unix(meta_timestamp: str) -> int:
    return int(datetime.strptime(meta_timestamp, "%Y-%m-%dT%H:%M:%S%z").timestamp())


def _time_filter(params: Mapping[str, Any]) -> list[tuple[str, int]]:
    rules = []
    for rule in parse_filtering(params.get("filtering")):
        operator = rule.get("operator")
        if rule.get("field") != "time_created" or operator not in ("GREATER_THAN", "LESS_THAN"):
            raise GraphError(
                400,
                100,
                f"(#100) Filtering field {rule.get('field')} with operator {operator} is not "
                "supported",
                error_type="GraphMethodException",
            )
        try:
            rules.append((str(operator), int(str(rule.get("value")))))
        except ValueError:
            raise GraphError(
                400,
                100,
                "(#100) Filtering on time_created needs a unix time integer",
                error_type="GraphMethodException",
            ) from None
    return rules


def _passes(lead: Mapping[str, Any], rules: list[tuple[str, int]]) -> bool:
    created = _unix(lead["created_time"])
    return all(
        created > value if operator == "GREATER_THAN" else created < value
        for operator, value in rules
    )


def _subscribed_apps(
    state: SandboxState,
    method: str,
    page_id: str,
    params: Mapping[str, Any],
    record: TokenRecord,
) -> dict[str, Any]:
    """``/{page-id}/subscribed_apps`` (Meta's "Webhooks for Pages"): with the page's token and
    ``pages_manage_metadata``, POST ``subscribed_fields=leadgen`` subscribes the app to the
    page's changes; GET lists the subscribed apps and their fields."""
    _page_token_of(record, page_id)
    _need(state, record, "pages_manage_metadata")
    apps = state.page_subscriptions.setdefault(page_id, {})
    if method == "POST":
        fields = [f for f in str(params.get("subscribed_fields", "")).split(",") if f]
        if not fields:
            raise GraphError(
                400,
                100,
                "(#100) The parameter subscribed_fields is required",
                error_type="GraphMethodException",
            )
        apps[state.config.app_id] = fields
        return {"success": True}
    return {
        "data": [
            {"id": app_id, "name": "metasync", "subscribed_fields": fields}
            for app_id, fields in apps.items()
        ]
    }


def read(
    state: SandboxState,
    method: str,
    head: str,
    edge: str | None,
    params: Mapping[str, Any],
    record: TokenRecord,
    *,
    next_base: str,
) -> Any:
    """Answer a Lead Ads read (:func:`owns` said the path is one)."""
    book: LeadBook = state.world.leads
    if head in book.pages and edge == "subscribed_apps":
        return _subscribed_apps(state, method, head, params, record)
    if method != "GET":
        raise GraphError(
            400, 100, "(#100) Only reads are supported here", error_type="GraphMethodException"
        )

    def listing(
        items: list[dict[str, Any]], render: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        return paginate(
            items,
            lambda item: str(item["id"]),
            render,
            params,
            next_base=next_base,
            token=record.token,
            faults=state.faults,
        )

    if head == "me":
        if record.page_id:
            raise GraphError(400, 100, "(#100) /me/accounts needs a user access token")
        pages = [p for p in book.pages.values() if p["_owner"] == record.user_id]
        if "pages_show_list" not in record.scopes:
            pages = []  # Meta lists no pages without the permission
        fields = {"fields": params.get("fields") or "id,name,access_token,category,tasks"}
        return listing(pages, lambda p: _select(p, "page", fields))
    if head in book.pages:
        page = book.pages[head]
        if record.page_id:
            _page_token_of(record, head)
        else:
            _manager(state, record, page)
        if edge is None:
            return _select(page, "page", params)
        if edge == "leadgen_forms":
            _page_token_of(record, head)
            _need(state, record, "pages_manage_ads")
            forms = book.forms_of(head)
            return listing(forms, lambda f: _select(f, "form", params))
    elif head in book.forms:
        form = book.forms[head]
        page = book.pages[form["page_id"]]
        if record.page_id:
            _page_token_of(record, page["id"])
        else:
            _manager(state, record, page)
        _need(state, record, "pages_manage_ads")
        if edge is None:
            return _select(form, "form", params)
        if edge == "leads":
            _page_token_of(record, page["id"])
            _need(state, record, "leads_retrieval")
            rules = _time_filter(params)
            leads = [lead for lead in book.leads_of(head) if _passes(lead, rules)]
            return listing(leads, lambda x: _select(x, "lead", params))
    elif head in book.leads:
        lead = book.leads[head]
        page = book.pages[lead["_page_id"]]
        if record.page_id:
            _page_token_of(record, page["id"])
        else:
            _manager(state, record, page)
        _need(state, record, "leads_retrieval", "pages_manage_ads")
        if edge is None:
            return _select(lead, "lead", params)
    raise GraphError(400, 2500, f"Unknown path components: /{head}/{edge}")
