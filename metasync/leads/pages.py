"""Page access tokens and the lead access state of each page a connection manages.

Meta's "Page Access Tokens": a user token of a person who manages a page gets the page's
token from ``/me/accounts`` (``fields=id,name,access_token``); forms and leads are read with
it (Meta's "Retrieving Leads"). The tokens are kept sealed on :class:`LeadPage` (bound to its
record id), read again at every lead sync (a new token, a page no longer managed). A page the
person no longer manages becomes ``not_managed``; its leads stay until retention or erasure.
"""

from __future__ import annotations

import logging
from typing import Any

from metasync.graph import GraphClient, MetaAPIError
from metasync.graph.paging import iter_pages
from metasync.models import ConnectionStatus, MetaConnection, utcnow
from metasync.models.leads import LeadAccessState, LeadPage
from metasync.sync.context import SyncContext

__all__ = ["page_client", "refresh_pages", "set_access", "subscribe_app", "subscribe_pages"]

log = logging.getLogger(__name__)


def set_access(page: LeadPage, state: str, reason: str | None = None) -> None:
    """Record the page's lead access (``since`` moves only when the state changes)."""
    now = utcnow()
    changes: dict[str, Any] = {"set__access": state, "set__access_reason": reason}
    changes["set__checked_at"] = now
    if page.access != state:
        changes["set__access_since"] = now
    LeadPage.objects(pk=page.pk).update_one(**changes)
    page.reload()


def refresh_pages(ctx: SyncContext, connection: MetaConnection) -> list[LeadPage]:
    """The connection's pages with their tokens stored (one listing of ``/me/accounts``).
    Raises the listing's :class:`MetaAPIError`: nothing is changed then."""
    client = ctx.client_for(connection)
    seen: dict[str, dict[str, Any]] = {}
    for page in iter_pages(client, "me/accounts", {"fields": "id,name,access_token"}):
        for item in page.items:
            if item.get("id") and item.get("access_token"):
                seen[str(item["id"])] = item
    tenant_id, connection_id = connection.tenant_id, str(connection.pk)
    pages: list[LeadPage] = []
    for page_id, item in sorted(seen.items()):
        record = LeadPage.objects(
            tenant_id=tenant_id, connection_id=connection_id, page_id=page_id
        ).first() or LeadPage(tenant_id=tenant_id, connection_id=connection_id, page_id=page_id)
        record.name = str(item.get("name") or "")
        record.set_page_token(ctx.cipher, str(item["access_token"]))
        if record.access == LeadAccessState.NOT_MANAGED:
            record.access = LeadAccessState.GRANTED
            record.access_since = utcnow()
        record.checked_at = utcnow()
        record.save()
        pages.append(record)
    gone = LeadPage.objects(
        tenant_id=tenant_id, connection_id=connection_id, page_id__nin=sorted(seen)
    )
    for record in gone:
        set_access(record, LeadAccessState.NOT_MANAGED, "no longer listed in /me/accounts")
    return pages


def page_client(ctx: SyncContext, connection: MetaConnection, page: LeadPage) -> GraphClient:
    """A governed client with the page's token, charged to the connection's budget."""
    return GraphClient(
        page.page_token(ctx.cipher),
        ctx.graph,
        governor=ctx.governor,
        connection_id=str(connection.pk),
    )


def describe_error(error: MetaAPIError) -> str:
    """Meta's code and message (no token: the client redacts them)."""
    return str(error)[:300]


def subscribe_app(ctx: SyncContext, callback_url: str) -> None:
    """Subscribe the app (with the app token) to Pages' ``leadgen`` changes at
    ``callback_url`` (``/{app-id}/subscriptions``, object ``page``). Raises Meta's refusal."""
    settings = ctx.settings
    if settings.META_APP_VERIFY_TOKEN is None:
        raise ValueError("META_APP_VERIFY_TOKEN is required: set it to the verify token for Meta")
    app_client = GraphClient(
        f"{settings.META_APP_ID}|{settings.META_APP_SECRET.get_secret_value()}", ctx.graph
    )
    app_client.post(
        f"{settings.META_APP_ID}/subscriptions",
        {
            "object": "page",
            "callback_url": callback_url,
            "fields": "leadgen",
            "verify_token": settings.META_APP_VERIFY_TOKEN.get_secret_value(),
        },
    )


def subscribe_pages(ctx: SyncContext) -> dict[str, str]:
    """Subscribe each granted page of every ACTIVE connection to the app's ``leadgen``
    changes (``/{page-id}/subscribed_apps``, ``subscribed_fields=leadgen``, with its page
    token; Meta's "Webhooks for Pages"). Returns each page's outcome (``subscribed`` or
    Meta's refusal)."""
    outcome: dict[str, str] = {}
    for connection in MetaConnection.objects(status=ConnectionStatus.ACTIVE):
        for page in LeadPage.objects(
            connection_id=str(connection.pk), access=LeadAccessState.GRANTED
        ):
            try:
                page_client(ctx, connection, page).post(
                    f"{page.page_id}/subscribed_apps", {"subscribed_fields": "leadgen"}
                )
                outcome[page.page_id] = "subscribed"
            except MetaAPIError as exc:
                outcome[page.page_id] = describe_error(exc)
    return outcome
