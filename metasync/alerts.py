"""The built-in notifier, for deployments without Prometheus and Alertmanager: the conditions
of ``deploy/prometheus/alerts.yml`` checked every few minutes (beat), each new problem announced
once and each cleared problem once, to a Slack-compatible webhook and/or by email.

- **Conditions**: an account lagging, expiring or failing (its health record); throttled for
  more than :data:`THROTTLED_LONG` ahead; a connection whose calls Meta upgraded from an expired
  API version (``X-Ad-Api-Version-Warning`` within a day); a Facebook Page whose leads Meta
  refuses (``leads_retrieval`` or ``pages_manage_ads`` not granted); report jobs of a tenant
  failed in the last hour; webhook changes failed in the last hour; a tenant's optimizer failing to
  evaluate its rules; a write of the optimizer that Meta refused for good to take back
  (``restore_refused``: it holds until an undo restores it).
- **Said with why and what to do**: an account's flag comes with its reason and the fix
  (:func:`metasync.health.reasons.flag_reason`), as the console's open alerts show them.
- **Once**: each problem is an :class:`~metasync.models.AlertState` keyed by condition and
  subject. A check announces the problems not yet announced and the ones that cleared, in one
  message per channel (at most :data:`MAX_LINES` lines, then a count), so a fleet-wide outage
  is one message, not thousands, and nothing repeats while it lasts.
- **Delivery failures** lose nothing: an announcement that could not be sent stays pending and
  goes with the next check; the error is logged and returned to the task (Flower shows it).

Channels (:mod:`metasync.alert_channels`): ``ALERT_WEBHOOK_URL`` (JSON ``{"text": ...}``, what
Slack's incoming webhooks and compatible receivers take) and ``ALERT_SMTP_URL``
(``smtp://user:password@host:port`` with STARTTLS, or ``smtps://``) to ``ALERT_EMAIL_TO``, each
verifying the server's certificate. A problem's line is plain text holding names from Meta and
users; each channel escapes it for itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis

from metasync.alert_channels import MAX_LINES, deliver
from metasync.config import Settings
from metasync.graph.version_warning import VERSION_WARNING_WINDOW
from metasync.health.pages import every_health
from metasync.health.reasons import LEADS_NOT_GRANTED_FIX, flag_reason
from metasync.keys import RedisKeys
from metasync.models import (
    AlertState,
    MetaConnection,
    OptimizerSettings,
    Recommendation,
    ReportRun,
    WebhookEvent,
    utcnow,
)
from metasync.models.leads import LeadAccessState, LeadPage
from metasync.optimize.outcome import not_restored

__all__ = ["MAX_LINES", "THROTTLED_LONG", "CheckResult", "check_alerts", "current_problems"]

log = logging.getLogger(__name__)

THROTTLED_LONG = timedelta(hours=2)
RECENT = timedelta(hours=1)


def current_problems(client: redis.Redis | None, keys: RedisKeys, now: datetime) -> dict[str, str]:
    """Every problem that holds now: key -> one line saying it, in plain text (names as Meta
    and users wrote them; the channels escape them)."""
    found: dict[str, str] = {}
    for h in every_health(client, keys, now=now):
        subject = f"ad account {h.account_id} ({h.name or 'unnamed'}) of tenant {h.tenant_id}"
        for flag in h.flags:
            why, what = flag_reason(flag, h)
            found[f"{flag}:{h.connection_id}:{h.account_id}"] = (
                f"{subject} is {flag}: {why}. To do: {what}"
            )
        if h.throttled_until is not None and h.throttled_until - now > THROTTLED_LONG:
            found[f"throttled:{h.account_id}"] = (
                f"{subject} is throttled until {h.throttled_until:%Y-%m-%d %H:%M} UTC"
            )
    for tenant in ReportRun.objects(status="failed", updated_at__gte=now - RECENT).distinct(
        "tenant_id"
    ):
        found[f"report-jobs:{tenant}"] = f"report jobs of tenant {tenant} failed in the last hour"
    for connection in MetaConnection.objects(
        api_version_warning_at__gte=now - VERSION_WARNING_WINDOW
    ).only("tenant_id", "api_version_warning"):
        found[f"api-version:{connection.pk}"] = (
            f"Meta upgraded calls of connection {connection.pk} of tenant {connection.tenant_id} "
            f"from an expired API version ({connection.api_version_warning}); set "
            "META_API_VERSION to a live version"
        )
    for page in LeadPage.objects(access=LeadAccessState.NOT_GRANTED).only(
        "tenant_id", "connection_id", "page_id", "name", "access_reason"
    ):
        found[f"leads-access:{page.connection_id}:{page.page_id}:{page.tenant_id}"] = (
            f"Meta refuses the leads of page {page.page_id} ({page.name or 'unnamed'}) to "
            f"connection {page.connection_id} of tenant {page.tenant_id}: "
            f"{page.access_reason or 'no message'}. To do: "
            + LEADS_NOT_GRANTED_FIX.replace("TENANT", page.tenant_id)
        )
    if WebhookEvent.objects(status="failed", received_at__gte=now - RECENT).first() is not None:
        found["webhooks"] = "webhook changes failed in the last hour"
    for settings in OptimizerSettings.objects(evaluation_error__ne=None).only(
        "tenant_id", "evaluation_error"
    ):
        if settings.evaluation_error:
            found[f"optimizer:{settings.tenant_id}"] = (
                f"the optimizer of tenant {settings.tenant_id} cannot evaluate its rules: "
                f"{settings.evaluation_error}"
            )
    for rec in Recommendation.objects(state="restore_refused").only(
        "tenant_id", "account_id", "restore", "error"
    ):
        found[f"restore-refused:{rec.pk}"] = (
            f"Meta refused to take back a write of recommendation {rec.pk} (ad account "
            f"{rec.account_id} of tenant {rec.tenant_id}); not restored: "
            f"{not_restored(rec) or 'nothing'}; {rec.error}; once fixed, run metasync "
            f"recommendations undo --tenant {rec.tenant_id} {rec.pk}"
        )
    return found


@dataclass
class CheckResult:
    opened: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def check_alerts(
    settings: Settings,
    client: redis.Redis | None = None,
    keys: RedisKeys | None = None,
    now: datetime | None = None,
) -> CheckResult:
    """Compare the problems of now with those announced; announce what opened and cleared."""
    now = now or utcnow()
    problems = current_problems(client, keys or RedisKeys(settings.REDIS_KEY_PREFIX), now)
    collection = AlertState._get_collection()
    states = {s["key"]: s for s in collection.find({})}  # what is open or awaits its clear
    born = [
        {"key": k, "summary": v, "opened_at": now, "announced": False, "cleared_at": None}
        for k, v in problems.items()
        if k not in states
    ]
    if born:
        collection.insert_many(born)
    changed = []  # only what moved is written: a long outage costs no write per check
    for state in states.values():
        open_now, cleared = state["key"] in problems, state.get("cleared_at") is not None
        if open_now and cleared:  # back after it cleared: a new problem
            state.update(cleared_at=None, opened_at=now, announced=False)
        elif not open_now and not cleared:
            state["cleared_at"] = now
        else:
            continue
        changed.append(state)
    for state in changed:
        fields = {k: state.get(k) for k in ("cleared_at", "opened_at", "announced")}
        collection.update_one({"_id": state["_id"]}, {"$set": fields})
    unsaid = [s["_id"] for s in states.values() if s.get("cleared_at") and not s.get("announced")]
    if unsaid:  # came and went before it was told: nothing to say
        collection.delete_many({"_id": {"$in": unsaid}})
    everything = [*born, *states.values()]
    fresh = [s for s in everything if s.get("cleared_at") is None and not s.get("announced")]
    over = [s for s in everything if s.get("cleared_at") and s.get("announced")]
    result = CheckResult(opened=[s["summary"] for s in fresh], cleared=[s["summary"] for s in over])
    if not result.opened and not result.cleared:
        return result
    if settings.ALERT_WEBHOOK_URL is None and settings.ALERT_SMTP_URL is None:
        return result  # nowhere to send: the states still track what holds
    result.errors = deliver(settings, result.opened, result.cleared)
    if result.errors:
        log.warning("alerts could not be sent: %s", "; ".join(result.errors))
        return result
    collection.update_many(
        {"key": {"$in": [s["key"] for s in fresh]}}, {"$set": {"announced": True}}
    )
    collection.delete_many({"_id": {"$in": [s["_id"] for s in over]}})
    return result
