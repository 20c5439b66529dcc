"""Rechecking an account's Ads Insights features soon after an operator enabled one.

Meta's page "Feature Settings API" (2026-08-07): an enabled feature takes effect within 24
hours. The daily token check reads every account's features, but at a moment unrelated to
the enabling, so a feature enabled just after a check would wait up to two checks (~48
hours) before its gated report syncs. Instead, the ``recheck-features`` beat entry
(``workers.features``, every :data:`RECHECK_SWEEP_MINUTES`) reads again each account with a
feature enabled between :data:`RECHECK_FROM` and :data:`RECHECK_UNTIL` ago that is still
``pending``, at most once per :data:`RECHECK_SPACING`: the first read falls within
``RECHECK_FROM + RECHECK_SWEEP_MINUTES`` (24 h 30 min) of the enabling, and the next
performance run then syncs the gated report (within ~25 hours in all).

Trade-off: a sweep rather than one Celery task with a 24-hour ETA per enabling. With the
Redis broker an ETA task longer than the broker's visibility timeout (2 hours) is delivered
again every timeout, and a queued ETA task is lost with a flushed broker; the sweep keeps
its state in MongoDB (``AccountFeatures.enabled_by``, written by
:func:`metasync.sync.features.enable_feature`) and is idempotent: it only reads Meta's states
and applies them, so a doubled sweep costs two reads of one account, nothing else. It takes
no arguments; nothing about a person travels through the broker.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from metasync.graph import MetaAPIError
from metasync.models import (
    AccountFeatures,
    ConnectionStatus,
    FeatureStatus,
    MetaConnection,
    aware,
    utcnow,
)
from metasync.sync.context import SyncContext
from metasync.sync.features import FEATURES, features_client, read_account

__all__ = [
    "RECHECK_FROM",
    "RECHECK_SPACING",
    "RECHECK_SWEEP_MINUTES",
    "RECHECK_UNTIL",
    "due_rechecks",
    "recheck_enabled_features",
]

log = logging.getLogger(__name__)

#: Meta's "up to 24 hours" after an enabling: no recheck before it.
RECHECK_FROM = timedelta(hours=24)
#: After this, the daily token check alone reads the account (Meta missed its own delay).
RECHECK_UNTIL = timedelta(hours=48)
#: At most one recheck of an account per this while a feature stays pending.
RECHECK_SPACING = timedelta(hours=1)
#: How often beat runs the sweep (minutes).
RECHECK_SWEEP_MINUTES = 30


def due_rechecks(now: datetime) -> list[AccountFeatures]:
    """The accounts with a feature enabled ``RECHECK_FROM``..``RECHECK_UNTIL`` ago, still
    pending at the last read (or never read since), not read in the last
    :data:`RECHECK_SPACING` nor since the enabling's 24 hours passed."""
    window = {"$gte": now - RECHECK_UNTIL, "$lte": now - RECHECK_FROM}
    candidates = AccountFeatures.objects(
        __raw__={"$or": [{f"enabled_by.{feature}.at": window} for feature in FEATURES]}
    )
    due: list[AccountFeatures] = []
    for record in candidates:
        for feature, entry in (record.enabled_by or {}).items():
            enabled_at = aware(entry.get("at"))
            if enabled_at is None or not (now - RECHECK_UNTIL <= enabled_at <= now - RECHECK_FROM):
                continue
            if record.status(feature) == FeatureStatus.ENABLED:
                continue  # already in effect at the last read
            last = aware(record.attempted_at)
            if last is None or last < max(enabled_at + RECHECK_FROM, now - RECHECK_SPACING):
                due.append(record)
                break
    return due


def recheck_enabled_features(ctx: SyncContext, now: datetime | None = None) -> dict[str, str]:
    """Read again the features of each account :func:`due_rechecks` names, through an ACTIVE
    connection of its tenant that reaches it. Returns account id -> the outcome (the
    re-enabled features' statuses, or why not read); one account's failure stops no other."""
    moment = now or utcnow()
    outcome: dict[str, str] = {}
    for record in due_rechecks(moment):
        account_id, tenant_id = record.account_id, record.tenant_id
        connection = MetaConnection.objects(
            tenant_id=tenant_id, status=ConnectionStatus.ACTIVE, ad_account_ids=account_id
        ).first()
        if connection is None:
            outcome[account_id] = "no active connection reaches it"
            continue
        try:
            read = read_account(features_client(ctx, connection), tenant_id, account_id, moment)
        except MetaAPIError as exc:  # read_account records Meta's refusals; this is the token
            outcome[account_id] = f"not read: {exc.message}"
            continue
        wanted = sorted(record.enabled_by or {})
        outcome[account_id] = read.error or ", ".join(
            f"{feature} {read.states.get(feature, 'unlisted')}" for feature in wanted
        )
    if outcome:
        log.info("features rechecked after their enabling: %s", outcome)
    return outcome
