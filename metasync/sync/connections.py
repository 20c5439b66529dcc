"""Connection lifecycle: adding one, refreshing its token, and marking it when Meta refuses it."""

from __future__ import annotations

from datetime import datetime, timedelta

from metasync.graph import GraphClient, TokenError, TokenInfo, debug_token, exchange_token
from metasync.graph.ids import account_number
from metasync.graph.paging import iter_pages
from metasync.health.records import keep_health
from metasync.models import ConnectionStatus, MetaConnection, utcnow
from metasync.sync.context import SyncContext

__all__ = [
    "REFRESH_WITHIN",
    "add_connection",
    "discover_accounts",
    "exchange",
    "inspect_token",
    "mark_token_error",
    "maybe_refresh_token",
]

REFRESH_WITHIN = timedelta(minutes=5)
TOKEN_SUBCODES = {
    458: "the user removed the app",
    459: "the user is checkpointed and must log in to Facebook",
    460: "the user changed their password",
    463: "the token expired",
    464: "the user is not confirmed",
    467: "the token is invalid",
}


def mark_token_error(connection_id: str, error: TokenError) -> None:
    """Mark the connection EXPIRED with a readable reason; its syncs stop until a new token."""
    why = TOKEN_SUBCODES.get(error.subcode or 0, "Meta rejected the token")
    reason = f"{why} (code {error.code}, subcode {error.subcode}); add a new token"
    updated = MetaConnection.objects(pk=connection_id).modify(
        new=True,
        set__status=ConnectionStatus.EXPIRED,
        set__status_reason=reason,
        set__status_code=error.code,
        set__status_subcode=error.subcode,
        set__last_error=reason,
        set__last_error_at=utcnow(),
        set__updated_at=utcnow(),
    )
    if updated is not None:
        keep_health(updated.tenant_id, connection_id)


def maybe_refresh_token(
    ctx: SyncContext, connection: MetaConnection, now: datetime | None = None
) -> bool:
    """Exchange a user token that expires within 5 minutes for a fresh long-lived one.

    Returns True when the token was replaced. Raises ``TokenError`` when Meta refuses (an
    expired token cannot be exchanged): the caller marks the connection.
    """
    moment = now or utcnow()
    expires = connection.token_expires_at
    if connection.token_type != "USER" or expires is None or expires - moment > REFRESH_WITHIN:  # noqa: S105
        return False
    exchange(ctx, connection)
    connection.updated_at = moment
    connection.save()
    return True


def exchange(ctx: SyncContext, connection: MetaConnection) -> None:
    """Exchange the connection's (still valid) user token for a fresh long-lived one, onto the
    record (not saved). Raises ``TokenError`` when Meta refuses."""
    fresh = exchange_token(ctx.graph, ctx.settings.META_APP_ID, connection.access_token(ctx.cipher))
    connection.set_access_token(ctx.cipher, fresh.access_token)
    connection.token_expires_at = fresh.expires_at


def inspect_token(ctx: SyncContext, token: str) -> TokenInfo:
    """``debug_token``: what Meta knows of ``token``; ``TokenError`` when it is not valid."""
    info = debug_token(ctx.graph, ctx.settings.META_APP_ID, token)
    if not info.is_valid or not info.user_id:
        raise TokenError(
            info.error_message or "Meta says this token is not valid",
            code=info.error_code or 190,
            subcode=info.error_subcode,
        )
    return info


def discover_accounts(client: GraphClient) -> list[str]:
    """The ad account ids (numeric, without ``act_``) the token can read."""
    return [
        account_number(item["id"])
        for page in iter_pages(client, "me/adaccounts", {"fields": "id"}, limit=100)
        for item in page.items
    ]


def add_connection(
    ctx: SyncContext, tenant_id: str, token: str, account_ids: list[str] | None = None
) -> MetaConnection:
    """Inspect ``token`` (``debug_token``), store it encrypted, and record its ad accounts.

    Without ``account_ids`` the accounts are discovered from ``/me/adaccounts``.
    """
    info = inspect_token(ctx, token)
    client = GraphClient(token, ctx.graph)
    accounts = (
        [account_number(a) for a in account_ids] if account_ids else (discover_accounts(client))
    )
    connection = MetaConnection.objects(
        tenant_id=tenant_id, meta_user_id=info.user_id
    ).first() or MetaConnection(tenant_id=tenant_id, meta_user_id=info.user_id)
    connection.set_access_token(ctx.cipher, token)
    connection.token_type = info.type if info.type in ("USER", "SYSTEM_USER", "PAGE") else "USER"
    connection.token_expires_at = info.expires_at
    connection.data_access_expires_at = info.data_access_expires_at
    connection.token_scopes = list(info.scopes)
    connection.ad_account_ids = accounts
    connection.discover_accounts = not account_ids
    connection.accounts_discovered_at = None if account_ids else utcnow()
    connection.status = ConnectionStatus.ACTIVE
    connection.status_reason = None
    connection.updated_at = utcnow()
    connection.save()
    keep_health(tenant_id, str(connection.pk))
    return connection
