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
- a token Meta says is invalid marks the connection EXPIRED with the reason;
- each account's Ads Insights features are read from Meta's Feature Settings API
  (:mod:`metasync.sync.features`), so a gated report is skipped, or starts syncing, on Meta's
  word rather than on a guess from empty answers.

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
from metasync.sync.features import read_features

__all__ = ["TokenCheck", "check_tokens", "refresh_now", "token_warning"]

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
            # the accounts' Ads Insights features, from Meta's Feature Settings API: one
            # account's failure is recorded on it (the opt-in inference is the fallback)
            read_features(ctx, connection, moment)
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


def refresh_now(
    ctx: SyncContext, connection_id: str, now: datetime | None = None
) -> dict[str, str]:
    """An operator's "refresh token": exchange the connection's user token for a fresh
    long-lived one, then ask Meta (``debug_token``) about the fresh token and record its answer:
    the token's expiry and the end of its data access, which only Meta knows (a person who
    granted the app again moved it). Before, only the expiry of the exchange was recorded, so
    the console's "data access ends in N d" kept the answer of the last daily check.

    The fresh token is saved before it is inspected, so a failing inspection loses nothing; a
    token Meta refuses marks the connection, as a sync would."""
    connection = MetaConnection.objects(pk=connection_id).first()
    if connection is None:
        return {"status": "unknown connection"}
    try:
        exchange(ctx, connection)
        connection.save()
        info = inspect_token(ctx, connection.access_token(ctx.cipher))
    except TokenError as exc:
        mark_token_error(connection_id, exc)
        return {"status": "refused", "error": str(exc)}
    moment = now or utcnow()
    connection.token_expires_at = info.expires_at or connection.token_expires_at
    connection.data_access_expires_at = info.data_access_expires_at
    connection.token_checked_at = moment
    connection.token_warning = token_warning(
        connection.token_expires_at, info.data_access_expires_at, moment
    )
    connection.updated_at = utcnow()
    connection.save()
    keep_health(connection.tenant_id, connection_id)
    return {
        "status": "refreshed",
        "expires_at": str(connection.token_expires_at),
        "data_access_expires_at": str(connection.data_access_expires_at),
    }
