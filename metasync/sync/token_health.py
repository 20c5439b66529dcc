"""Token lifetimes, checked every day before any sync fails because of them.

A user token lasts about 60 days and can only be exchanged while it is still valid; its data
access ends about 90 days after the person last granted the app, whatever the token says, and
only the person can renew it. :func:`check_tokens` therefore asks Meta (``debug_token``, with the
app token) about every active connection once a day:

- a user token within ``META_TOKEN_REFRESH_DAYS`` (default 7) of its expiry is exchanged for a
  fresh long-lived one (before, only a run that happened to start within 5 minutes of the
  expiry refreshed it);
- ``data_access_expires_at`` is recorded; a connection whose token or data access ends within
  7 days gets a ``token_warning`` (shown by ``metasync connections list`` and logged), so a
  person can reconnect before any sync fails;
- a token Meta says is invalid marks the connection EXPIRED with the reason.

:func:`token_warning` is the pure rule (dates in, words out); the clock is injected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from metasync.graph import MetaAPIError, TokenError
from metasync.health.records import keep_health
from metasync.models import ConnectionStatus, MetaConnection, utcnow
from metasync.sync.connections import exchange, inspect_token, mark_token_error
from metasync.sync.context import SyncContext

__all__ = ["TokenCheck", "check_tokens", "token_warning"]

log = logging.getLogger(__name__)

WARN_WITHIN = timedelta(days=7)


def token_warning(
    token_expires_at: datetime | None, data_access_expires_at: datetime | None, now: datetime
) -> str | None:
    """What will stop this connection within 7 days, in plain words; None when nothing will."""
    problems = []
    if token_expires_at is not None and token_expires_at - now <= WARN_WITHIN:
        problems.append(f"the token expires on {token_expires_at:%Y-%m-%d %H:%M} UTC")
    if data_access_expires_at is not None and data_access_expires_at - now <= WARN_WITHIN:
        problems.append(f"data access ends on {data_access_expires_at:%Y-%m-%d %H:%M} UTC")
    if not problems:
        return None
    return " and ".join(problems) + ": the person who connected must reconnect the app"


@dataclass(frozen=True)
class TokenCheck:
    connection_id: str
    refreshed: bool
    warning: str | None
    error: str | None = None


def check_tokens(ctx: SyncContext, now: datetime | None = None) -> list[TokenCheck]:
    """Check every ACTIVE connection's token (see the module's docstring). One connection's
    failure is recorded on it and never stops the others."""
    moment = now or utcnow()
    refresh_within = timedelta(days=ctx.settings.META_TOKEN_REFRESH_DAYS)
    results = []
    for connection in MetaConnection.objects(status=ConnectionStatus.ACTIVE):
        try:
            results.append(_check(ctx, connection, moment, refresh_within))
        except TokenError as exc:
            mark_token_error(str(connection.pk), exc)
            results.append(TokenCheck(str(connection.pk), False, None, exc.message))
        except MetaAPIError as exc:
            log.warning("token check of connection %s failed: %s", connection.pk, exc.message)
            results.append(TokenCheck(str(connection.pk), False, None, exc.message))
    return results


def _check(
    ctx: SyncContext, connection: MetaConnection, now: datetime, refresh_within: timedelta
) -> TokenCheck:
    info = inspect_token(ctx, connection.access_token(ctx.cipher))
    connection.token_expires_at = info.expires_at
    expires, refreshed = info.expires_at, False
    if connection.token_type == "USER" and expires is not None and expires - now <= refresh_within:  # noqa: S105
        exchange(ctx, connection)
        refreshed = True
    warning = token_warning(connection.token_expires_at, info.data_access_expires_at, now)
    connection.data_access_expires_at = info.data_access_expires_at
    connection.token_checked_at = now
    connection.token_warning = warning
    connection.updated_at = utcnow()
    connection.save()
    keep_health(connection.tenant_id, str(connection.pk))
    if warning:
        log.warning(
            "connection %s of tenant %s: %s",
            connection.pk,
            connection.tenant_id,
            warning,
            extra={"connection_id": str(connection.pk)},
        )
    return TokenCheck(str(connection.pk), refreshed, warning)
