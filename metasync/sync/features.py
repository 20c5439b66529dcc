"""Ads Insights features read from Meta, not guessed (Meta's page "Feature Settings API",
updated 2026-08-07).

Some breakdowns answer only for accounts that enabled their feature (``comscore``:
``comscore_market``/``comscore_market_code``; ``frequency_value``; ``impression_device``;
``time_of_day_viewer_tz``: ``hourly_stats_aggregated_by_audience_time_zone``). The daily
token check reads each active connection's accounts through the Feature Settings API
(:func:`read_features`, two calls per account on the API's own host) and:

- stores them per account (:class:`~metasync.models.AccountFeatures`: feature -> status,
  effective date, when read);
- records each gated report's :class:`~metasync.models.ReportAccess` from them
  (``source="feature_settings"``): ``not_opted_in`` (with the feature and its status,
  ``pending`` included) or ``available``. The performance planner skips a report that is
  ``not_opted_in`` by Meta's word until the next read says otherwise
  (:data:`FEATURE_STATE_HOURS`), so no Graph call is spent on it;
- when the API cannot be read for an account (an error is recorded on it), nothing is
  decided from it and the empty-answer inference of :mod:`metasync.sync.opt_in` stays the
  fallback.

:func:`enable_feature` enables one for an account (an operator's act, from the CLI or the
console, after a confirmation: it cannot be undone and takes up to 24 hours). It reads the
account's states again at once (``pending``); the daily check notices when Meta puts it in
effect, and the gated report then syncs on the next performance run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from metasync.graph import MetaAPIError
from metasync.graph.features import FeatureSettingsClient, FeatureState
from metasync.models import (
    AccountFeatures,
    FeatureStatus,
    MetaConnection,
    ReportAccessState,
    utcnow,
)
from metasync.reports.catalogue import FEATURE_BREAKDOWNS, features_needed
from metasync.reports.store import enabled_reports
from metasync.sync.context import SyncContext
from metasync.sync.opt_in import FEATURE_STATE_HOURS, set_access

__all__ = [
    "FEATURES",
    "FEATURE_STATE_HOURS",
    "FeatureRead",
    "enable_feature",
    "features_client",
    "read_account",
    "read_features",
]

log = logging.getLogger(__name__)

FEATURES = tuple(FEATURE_BREAKDOWNS)


@dataclass(frozen=True)
class FeatureRead:
    account_id: str
    states: dict[str, str]  # feature -> status; empty when the read failed
    error: str | None = None


def features_client(ctx: SyncContext, connection: MetaConnection) -> FeatureSettingsClient:
    """A Feature Settings API client with the connection's token, on ``META_ADS_API_URL``."""
    settings = ctx.settings
    return FeatureSettingsClient(
        connection.access_token(ctx.cipher),
        settings.ads_api_base_url,
        settings.META_APP_SECRET.get_secret_value(),
        timeout=(settings.META_HTTP_CONNECT_TIMEOUT, settings.META_HTTP_READ_TIMEOUT),
    )


def read_features(
    ctx: SyncContext, connection: MetaConnection, now: datetime | None = None
) -> list[FeatureRead]:
    """Read, store and apply every active account's features of one connection. One
    account's failure is recorded on it and never stops the others."""
    moment = now or utcnow()
    client = features_client(ctx, connection)
    return [
        read_account(client, connection.tenant_id, account_id, moment)
        for account_id in connection.ad_account_ids or []
    ]


def read_account(
    client: FeatureSettingsClient, tenant_id: str, account_id: str, now: datetime
) -> FeatureRead:
    key = {"tenant_id": tenant_id, "account_id": account_id}
    try:
        states = client.states(account_id, now)
    except MetaAPIError as exc:
        AccountFeatures.objects(**key).update_one(
            set__attempted_at=now, set__error=exc.message, upsert=True
        )
        log.warning(
            "could not read the features of account %s (Feature Settings API): %s; "
            "opt-in states are inferred from empty answers meanwhile",
            account_id,
            exc.message,
        )
        return FeatureRead(account_id, {}, exc.message)
    features = {
        state.name: {"status": state.status, "effective_at": state.effective_at} for state in states
    }
    before = AccountFeatures.objects(**key).only("features").first()
    AccountFeatures.objects(**key).update_one(
        set__features=features,
        set__read_at=now,
        set__attempted_at=now,
        unset__error=True,
        upsert=True,
    )
    _log_changes(account_id, before.features if before else {}, features)
    _apply(tenant_id, account_id, states, now)
    return FeatureRead(account_id, {state.name: state.status for state in states})


def _apply(tenant_id: str, account_id: str, states: list[FeatureState], now: datetime) -> None:
    """Each enabled gated report's access, as Meta's feature states decide it."""
    status = {state.name: state for state in states}
    for report in enabled_reports(tenant_id):
        needed = sorted(features_needed(report.breakdowns))
        if not needed or any(feature not in status for feature in needed):
            continue  # not gated, or a feature Meta did not list: the fallback decides
        missing = [f for f in needed if status[f].status != FeatureStatus.ENABLED]
        evidence: dict[str, object] = {
            "source": "feature_settings",
            "checked_since": None,
            "checked_until": None,
            "delivered_impressions": None,
        }
        if missing:
            evidence |= {"feature": missing[0], "feature_status": status[missing[0]].status}
            set_access(
                tenant_id, account_id, report.name, ReportAccessState.NOT_OPTED_IN, now, **evidence
            )
        else:
            evidence |= {"feature": needed[0], "feature_status": FeatureStatus.ENABLED}
            set_access(
                tenant_id, account_id, report.name, ReportAccessState.AVAILABLE, now, **evidence
            )


def _log_changes(
    account_id: str,
    before: Mapping[str, Mapping[str, object]],
    after: Mapping[str, Mapping[str, object]],
) -> None:
    for feature, entry in after.items():
        old = (before.get(feature) or {}).get("status")
        if old is not None and old != entry["status"]:
            log.info(
                "account %s: feature %s is now %s (was %s)",
                account_id,
                feature,
                entry["status"],
                old,
            )


def enable_feature(
    ctx: SyncContext,
    connection: MetaConnection,
    account_id: str,
    feature: str,
    actor: str,
    now: datetime | None = None,
) -> FeatureRead:
    """Enable ``feature`` for the account through Meta (irreversible; up to 24 hours), then
    read its states again. ``actor`` (the operator) is recorded on the account's features."""
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; one of {', '.join(FEATURES)}")
    if account_id not in (connection.ad_account_ids or []):
        raise ValueError(f"account {account_id} is not one of the connection's accounts")
    moment = now or utcnow()
    client = features_client(ctx, connection)
    client.enable(account_id, feature)
    AccountFeatures.objects(tenant_id=connection.tenant_id, account_id=account_id).update_one(
        **{f"set__enabled_by__{feature}": {"by": actor, "at": moment}}, upsert=True
    )
    log.info("account %s: %s enabled by %s (in effect within 24 hours)", account_id, feature, actor)
    return read_account(client, connection.tenant_id, account_id, moment)
