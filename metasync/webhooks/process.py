"""What a webhook change does: refetch the object it names and its recent performance.

``with_issues_ad_objects`` and ``in_process_ad_objects`` name a campaign, ad set or ad (``id``
and ``level``); the object is read again (status, ``issues_info``) and its last three days of
rows refreshed, for every tenant whose ACTIVE connection mirrors the account. Other fields are
recorded and ignored. A change for an account nobody mirrors is recorded, not an error.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from metasync.graph import TokenError
from metasync.leads.webhook import LEADGEN, process_leadgen
from metasync.models import (
    AdAccount,
    AdCreative,
    ConnectionStatus,
    MetaConnection,
    WebhookEvent,
    WebhookStatus,
    upsert_page,
    utcnow,
)
from metasync.sync.connections import mark_token_error
from metasync.sync.context import SyncContext
from metasync.sync.periods import account_today
from metasync.sync.refresh import refresh_entity_insights
from metasync.sync.shapes import mapping
from metasync.sync.shapes.edges import CHANGE_KINDS, EDGES
from metasync.sync.write.changes import record_changes
from metasync.webhooks.payload import REFETCH_FIELDS, Change

__all__ = ["LEVELS", "process_change"]

log = logging.getLogger(__name__)

LEVELS = {
    "CAMPAIGN": ("campaign", "campaigns"),
    "AD_SET": ("adset", "adsets"),
    "ADSET": ("adset", "adsets"),
    "AD": ("ad", "ads"),
}
RECENT_DAYS = 3


def _record(key: str, status: str, detail: str) -> str:
    WebhookEvent.objects(dedupe_key=key).update(
        set__status=status, set__detail=detail, set__processed_at=utcnow()
    )
    return status


def process_change(ctx: SyncContext, change: Change, key: str) -> str:
    """Apply one change; returns the status recorded on its ``WebhookEvent``.

    Meta errors other than tokens propagate (typed) so the task can retry or record them.
    """
    if change.field == LEADGEN:  # a Page's new lead: its id only, fetched with the page token
        return process_leadgen(ctx, change, key)
    if change.field not in REFETCH_FIELDS:
        log.info("ignoring webhook field %s for account %s", change.field, change.account_id)
        return _record(key, WebhookStatus.IGNORED, f"field {change.field} is not acted on")
    object_id = str(change.value.get("id") or "")
    level = LEVELS.get(str(change.value.get("level") or "").upper())
    if not object_id.isdigit() or level is None:
        return _record(
            key, WebhookStatus.IGNORED, "the change names no campaign, ad set or ad (id and level)"
        )
    connections = list(
        MetaConnection.objects(ad_account_ids=change.account_id, status=ConnectionStatus.ACTIVE)
    )
    if not connections:
        log.warning("webhook for account %s, which no active connection mirrors", change.account_id)
        return _record(
            key,
            WebhookStatus.UNKNOWN_ACCOUNT,
            f"no active connection mirrors ad account {change.account_id}",
        )
    insight_level, edge = level
    spec = EDGES[edge]
    refreshed = []
    for connection in connections:
        account = AdAccount.objects(
            tenant_id=connection.tenant_id, meta_id=f"act_{change.account_id}"
        ).first()
        currency = account.currency if account else None
        try:
            raw = (
                ctx.client_for(connection)
                .get(object_id, {"fields": spec.fields}, account_id=change.account_id)
                .body
            )
            row = spec.mapper(raw, connection.tenant_id, currency, change.account_id)
            now = utcnow()
            if edge in CHANGE_KINDS:  # a webhook-triggered read logs new values too
                record_changes(spec.model, CHANGE_KINDS[edge], [row], run_id=None, now=now)
            upsert_page(spec.model, [row], now)
            if (
                edge == "ads"
                and isinstance(raw.get("creative"), dict)
                and raw["creative"].get("title") is not None
            ):
                upsert_page(
                    AdCreative,
                    [
                        mapping.map_creative(
                            raw["creative"], connection.tenant_id, change.account_id
                        )
                    ],
                    now,
                )
            today = account_today(account.timezone_name if account else None)
            refresh_entity_insights(
                ctx,
                connection,
                object_id,
                insight_level,
                change.account_id,
                today - timedelta(days=RECENT_DAYS - 1),
                today,
            )
        except TokenError as exc:
            mark_token_error(str(connection.pk), exc)
            continue
        refreshed.append(connection.tenant_id)
    if not refreshed:
        return _record(key, WebhookStatus.FAILED, "every connection's token was refused")
    return _record(
        key,
        WebhookStatus.PROCESSED,
        f"refetched {insight_level} {object_id} for {len(refreshed)} tenant(s)",
    )
