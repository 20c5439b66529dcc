"""The built-in notifier, for deployments without Prometheus and Alertmanager: the conditions
of ``deploy/prometheus/alerts.yml`` checked every few minutes (beat), each new problem announced
once and each cleared problem once, to a Slack-compatible webhook and/or by email.

- **Conditions**: an account lagging, expiring or failing (its health record); throttled for
  more than :data:`THROTTLED_LONG` ahead; report jobs of a tenant failed in the last hour;
  webhook changes failed in the last hour; a tenant's optimizer failing to evaluate its rules.
- **Once**: each problem is an :class:`~metasync.models.AlertState` keyed by condition and
  subject. A check announces the problems not yet announced and the ones that cleared, in one
  message per channel (at most :data:`MAX_LINES` lines, then a count), so a fleet-wide outage
  is one message, not thousands, and nothing repeats while it lasts.
- **Delivery failures** lose nothing: an announcement that could not be sent stays pending and
  goes with the next check; the error is logged and returned to the task (Flower shows it).

Channels: ``ALERT_WEBHOOK_URL`` (JSON ``{"text": ...}``, what Slack's incoming webhooks and
compatible receivers take) and ``ALERT_SMTP_URL`` (``smtp://user:password@host:port``, STARTTLS
when the server offers it, or ``smtps://``) to ``ALERT_EMAIL_TO``.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import redis
import requests

from metasync.config import Settings
from metasync.health.pages import every_health
from metasync.keys import RedisKeys
from metasync.models import AlertState, OptimizerSettings, ReportRun, WebhookEvent, utcnow

__all__ = ["MAX_LINES", "THROTTLED_LONG", "CheckResult", "check_alerts", "current_problems"]

log = logging.getLogger(__name__)

THROTTLED_LONG = timedelta(hours=2)
RECENT = timedelta(hours=1)
MAX_LINES = 50
TIMEOUT_SECONDS = 10


def current_problems(client: redis.Redis | None, keys: RedisKeys, now: datetime) -> dict[str, str]:
    """Every problem that holds now: key -> one line saying it."""
    found: dict[str, str] = {}
    for h in every_health(client, keys, now=now):
        subject = f"ad account {h.account_id} ({h.name or 'unnamed'}) of tenant {h.tenant_id}"
        for flag in h.flags:
            found[f"{flag}:{h.connection_id}:{h.account_id}"] = f"{subject} is {flag}"
        if h.throttled_until is not None and h.throttled_until - now > THROTTLED_LONG:
            found[f"throttled:{h.account_id}"] = (
                f"{subject} is throttled until {h.throttled_until:%Y-%m-%d %H:%M} UTC"
            )
    for tenant in ReportRun.objects(status="failed", updated_at__gte=now - RECENT).distinct(
        "tenant_id"
    ):
        found[f"report-jobs:{tenant}"] = f"report jobs of tenant {tenant} failed in the last hour"
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
    return found


@dataclass
class CheckResult:
    opened: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _message(opened: list[str], cleared: list[str]) -> str:
    lines = [f"PROBLEM: {line}" for line in opened] + [f"RESOLVED: {line}" for line in cleared]
    more = len(lines) - MAX_LINES
    head = f"metasync: {len(opened)} new problem(s), {len(cleared)} resolved"
    return "\n".join([head, *lines[:MAX_LINES], *([f"... and {more} more"] if more > 0 else [])])


def _send_webhook(url: str, text: str) -> None:
    answer = requests.post(url, json={"text": text}, timeout=TIMEOUT_SECONDS)
    if answer.status_code >= 300:
        raise RuntimeError(f"the alert webhook answered {answer.status_code}")


def _send_email(settings: Settings, text: str) -> None:
    assert settings.ALERT_SMTP_URL is not None
    url = urlsplit(settings.ALERT_SMTP_URL.get_secret_value())
    message = EmailMessage()
    message["Subject"], message["From"] = text.splitlines()[0], settings.ALERT_EMAIL_FROM
    message["To"] = ", ".join(settings.ALERT_EMAIL_TO)
    message.set_content(text)
    secure = url.scheme == "smtps"
    server_type = smtplib.SMTP_SSL if secure else smtplib.SMTP
    with server_type(url.hostname or "localhost", url.port or (465 if secure else 25),
                     timeout=TIMEOUT_SECONDS) as server:  # fmt: skip
        server.ehlo()
        if not secure and server.has_extn("starttls"):
            server.starttls()
            server.ehlo()
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.send_message(message)


def _deliver(settings: Settings, text: str) -> list[str]:
    """Send ``text`` on every configured channel; returns what failed (names no secret)."""
    errors = []
    if settings.ALERT_WEBHOOK_URL is not None:
        try:
            _send_webhook(settings.ALERT_WEBHOOK_URL.get_secret_value(), text)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the state kept
            errors.append(f"webhook: {type(exc).__name__}: {str(exc)[:200]}")
    if settings.ALERT_SMTP_URL is not None and settings.ALERT_EMAIL_TO:
        try:
            _send_email(settings, text)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"email: {type(exc).__name__}: {str(exc)[:200]}")
    return errors


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
    born = [{"key": k, "summary": v, "opened_at": now, "announced": False, "cleared_at": None}
            for k, v in problems.items() if k not in states]  # fmt: skip
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
    result.errors = _deliver(settings, _message(result.opened, result.cleared))
    if result.errors:
        log.warning("alerts could not be sent: %s", "; ".join(result.errors))
        return result
    collection.update_many({"key": {"$in": [s["key"] for s in fresh]}},
                           {"$set": {"announced": True}})  # fmt: skip
    collection.delete_many({"_id": {"$in": [s["_id"] for s in over]}})
    return result
