"""``/metrics``: Prometheus gauges computed when scraped, from MongoDB and Redis.

Nothing is counted in-process (the web app may run several copies, the work happens in the
workers), so every figure is read at scrape time with a number of MongoDB commands that does not
grow with the number of accounts: the kept health records (:mod:`metasync.health.records`, one
batch), the sync runs of the last 24 hours (one query on ``started_at``, one batch), one
``$group`` each over report jobs and webhook events (kept ``RUN_RETENTION_DAYS``), and two Redis
round trips: one ``MGET`` of the blocks, one pipeline of the governor's hour of calls; and per
tenant exporting to a warehouse, its latest exports.

Labels are ids (tenant, connection, ad account), never names or tokens.
"""

from __future__ import annotations

import hmac
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import redis
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metasync.api.keys import digest
from metasync.budgets import ADS_INSIGHTS, ADS_MANAGEMENT
from metasync.config import Settings
from metasync.graph.errors import BUSINESS_USE_CASES, DEFAULT_RATE_LIMIT_WAIT
from metasync.graph.version_warning import VERSION_WARNING_WINDOW
from metasync.health.pages import SCAN_BATCH, every_health
from metasync.keys import RedisKeys
from metasync.models import (
    AccountFeatures,
    ExportRun,
    ExportTarget,
    MetaConnection,
    OptimizerSettings,
    Recommendation,
    ReportAccess,
    ReportAccessState,
    ReportRun,
    SyncRun,
    WebhookEvent,
    utcnow,
)
from metasync.models.leads import LeadPage

__all__ = ["THROTTLING_CODES", "MirrorCollector", "add_metrics_route"]

THROTTLING_CODES = frozenset({*DEFAULT_RATE_LIMIT_WAIT, *BUSINESS_USE_CASES})
WINDOW = timedelta(hours=24)
USE_CASES = (ADS_MANAGEMENT, ADS_INSIGHTS)
ACCOUNT = ["tenant", "connection", "account"]
# what /metrics reads of each run of the last 24 hours: which run and how it ended, its figures
RUN_IDENTITY = ("tenant_id", "connection_id", "kind", "status", "finished_at")
RUN_FIGURES = ("rows", "api_calls", "errors.code")
RUN_FIELDS = (*RUN_IDENTITY, *RUN_FIGURES)


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


class MirrorCollector(Collector):
    """Every gauge of ``/metrics``, computed per scrape."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self.client, self.keys = client, keys

    def collect(self) -> Iterator[Metric]:
        yield from self._accounts()
        yield from self._runs()
        yield from self._jobs_and_webhooks()
        yield from self._version_warnings()
        yield self._lead_pages()

    def _accounts(self) -> Iterator[Metric]:
        now = utcnow()
        lag = _gauge(
            "metasync_freshness_lag_seconds",
            "now minus the end of the newest complete day mirrored (account time)",
            ACCOUNT,
        )
        flagged = _gauge(
            "metasync_account_flag", "1 when the account is flagged", [*ACCOUNT, "flag"]
        )
        throttled = _gauge(
            "metasync_throttled_seconds",
            "seconds until the governor lets calls for the account through",
            ACCOUNT,
        )
        token = _gauge(
            "metasync_token_expiry_seconds",
            "seconds until the token expires",
            ["tenant", "connection"],
        )
        access = _gauge(
            "metasync_data_access_expiry_seconds",
            "seconds until the token's data access ends",
            ["tenant", "connection"],
        )
        calls = _gauge(
            "metasync_graph_calls_hour",
            "calls in the governor's rolling hour",
            [*ACCOUNT, "use_case"],
        )
        seen_connections: set[str] = set()
        found = every_health(self.client, self.keys, now=now)
        reads = self.client.pipeline(transaction=False)  # every account's hour in one round trip
        for health in found:
            for use_case in USE_CASES:
                reads.hvals(self.keys.account_calls(health.account_id, use_case))
        windows = iter(reads.execute())
        for health in found:
            labels = [health.tenant_id, health.connection_id, health.account_id]
            if health.lag_seconds is not None:
                lag.add_metric(labels, health.lag_seconds)
            for flag in health.flags:
                flagged.add_metric([*labels, flag], 1)
            until = health.throttled_until
            throttled.add_metric(labels, max(0.0, (until - now).total_seconds()) if until else 0.0)
            for use_case in USE_CASES:
                calls.add_metric([*labels, use_case], sum(int(v) for v in next(windows)))
            if health.connection_id in seen_connections:
                continue
            seen_connections.add(health.connection_id)
            pair = [health.tenant_id, health.connection_id]
            if health.token_expires_at is not None:
                token.add_metric(pair, (health.token_expires_at - now).total_seconds())
            if health.data_access_expires_at is not None:
                access.add_metric(pair, (health.data_access_expires_at - now).total_seconds())
        yield from (lag, flagged, throttled, token, access, calls)

    def _version_warnings(self) -> Iterator[Metric]:
        """1 per connection whose calls carried Meta's ``X-Ad-Api-Version-Warning`` within
        :data:`VERSION_WARNING_WINDOW` (one query on the connections)."""
        warned = _gauge(
            "metasync_api_version_warning",
            "1 when Meta upgraded the connection's calls from an expired API version lately",
            ["tenant", "connection", "served_version"],
        )
        since = utcnow() - VERSION_WARNING_WINDOW
        for connection in MetaConnection.objects(api_version_warning_at__gte=since).only(
            "tenant_id", "api_version_served"
        ):
            labels = [connection.tenant_id, str(connection.pk)]
            warned.add_metric([*labels, connection.api_version_served or "unknown"], 1)
        yield warned

    def _runs(self) -> Iterator[Metric]:
        last = _gauge(
            "metasync_last_run_success",
            "1 when the connection's newest finished run of a kind succeeded",
            ["tenant", "connection", "kind"],
        )
        finished = _gauge(
            "metasync_last_run_finished_timestamp_seconds",
            "when that run finished (unix seconds)",
            ["tenant", "connection", "kind"],
        )
        rows = _gauge(
            "metasync_rows_written_24h",
            "rows written by runs of the last 24 hours",
            ["tenant", "level"],
        )
        api_calls = _gauge(
            "metasync_api_calls_24h", "Graph API calls of the last 24 hours' runs", ["tenant"]
        )
        throttling = _gauge(
            "metasync_throttling_errors_24h",
            "throttling errors (codes 4, 17, 32, 613, 80000-80014) in 24 hours",
            ["tenant"],
        )
        newest: dict[tuple[str, str, str], dict[str, Any]] = {}
        row_totals: dict[tuple[str, str], int] = defaultdict(int)
        call_totals: dict[str, int] = defaultdict(int)
        throttle_totals: dict[str, int] = defaultdict(int)
        recent = SyncRun._get_collection().find(  # raw documents: no model per run
            {"started_at": {"$gte": utcnow() - WINDOW}},
            dict.fromkeys(RUN_FIELDS, 1),
            batch_size=SCAN_BATCH,
        )
        for run in recent:
            tenant = run["tenant_id"]
            for level, count in (run.get("rows") or {}).items():
                row_totals[(tenant, level)] += int(count or 0)
            call_totals[tenant] += int(run.get("api_calls") or 0)
            throttle_totals[tenant] += sum(
                1 for e in run.get("errors") or [] if e.get("code") in THROTTLING_CODES
            )
            key = (tenant, run["connection_id"], run["kind"])
            done = run.get("finished_at")
            if done is not None and (key not in newest or done > newest[key]["finished_at"]):
                newest[key] = run
        for key, run in newest.items():
            last.add_metric(list(key), 1.0 if run["status"] == "succeeded" else 0.0)
            finished.add_metric(list(key), run["finished_at"].replace(tzinfo=UTC).timestamp())
        for (tenant, level), count in row_totals.items():
            rows.add_metric([tenant, level], count)
        for tenant, count in call_totals.items():
            api_calls.add_metric([tenant], count)
            throttling.add_metric([tenant], throttle_totals[tenant])
        yield from (last, finished, rows, api_calls, throttling)

    def _jobs_and_webhooks(self) -> Iterator[Metric]:
        jobs = _gauge("metasync_report_jobs", "report jobs kept, by state", ["tenant", "state"])
        pipeline = [{"$group": {"_id": {"t": "$tenant_id", "s": "$status"}, "n": {"$sum": 1}}}]
        for row in ReportRun.objects.aggregate(pipeline):
            jobs.add_metric([row["_id"]["t"], row["_id"]["s"]], row["n"])
        events = _gauge("metasync_webhook_events", "webhook events kept, by outcome", ["outcome"])
        pipeline = [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        for row in WebhookEvent.objects.aggregate(pipeline):
            events.add_metric([row["_id"]], row["n"])
        failing = _gauge(
            "metasync_optimizer_evaluation_failing",
            "1 when the tenant's last evaluation of its optimization rules failed",
            ["tenant"],
        )
        for settings in OptimizerSettings.objects(mode__ne="off").only(
            "tenant_id", "evaluation_error"
        ):
            failing.add_metric([settings.tenant_id], 1.0 if settings.evaluation_error else 0.0)
        refused = _gauge(
            "metasync_optimizer_restore_refused",
            "recommendations whose write Meta refused for good to take back (restore_refused: "
            "Meta is left changed until an operator acts)",
            ["tenant"],
        )
        pipeline = [
            {"$match": {"state": "restore_refused"}},
            {"$group": {"_id": "$tenant_id", "n": {"$sum": 1}}},
        ]
        for row in Recommendation.objects.aggregate(pipeline):
            refused.add_metric([row["_id"]], row["n"])
        withheld = _gauge(
            "metasync_report_not_opted_in_accounts",
            "accounts Meta withholds an opt-in report from (device, audience-hour, frequency "
            "breakdowns since 2026-08-03) until they opt in",
            ["tenant", "report"],
        )
        pipeline = [
            {"$match": {"state": ReportAccessState.NOT_OPTED_IN}},
            {"$group": {"_id": {"t": "$tenant_id", "r": "$report"}, "n": {"$sum": 1}}},
        ]
        for row in ReportAccess.objects.aggregate(pipeline):
            withheld.add_metric([row["_id"]["t"], row["_id"]["r"]], row["n"])
        yield from (jobs, events, failing, refused, withheld, self._features())
        yield from self._exports()

    def _lead_pages(self) -> Metric:
        """Pages leads are read from, per tenant and lead access (``not_granted``: Meta
        refuses ``leads_retrieval`` or ``pages_manage_ads``); ids and counts only."""
        gauge = _gauge(
            "metasync_lead_pages",
            "Facebook Pages per lead access (granted, not_granted, not_managed)",
            ["tenant", "access"],
        )
        pipeline = [{"$group": {"_id": {"t": "$tenant_id", "a": "$access"}, "n": {"$sum": 1}}}]
        for row in LeadPage.objects.aggregate(pipeline):
            gauge.add_metric([row["_id"]["t"], str(row["_id"]["a"])], row["n"])
        return gauge

    def _features(self) -> Metric:
        """Accounts per Ads Insights feature and status, as Meta's Feature Settings API
        stated them at the last daily read (one query; one document per ad account)."""
        gauge = _gauge(
            "metasync_account_features",
            "ad accounts per Ads Insights feature and status (enabled, pending, not_enabled) "
            "from Meta's Feature Settings API",
            ["tenant", "feature", "status"],
        )
        counts: Counter[tuple[str, str, str]] = Counter()
        for account in AccountFeatures.objects.only("tenant_id", "features"):
            for feature, entry in (account.features or {}).items():
                counts[(account.tenant_id, feature, str(entry.get("status")))] += 1
        for key, count in sorted(counts.items()):
            gauge.add_metric(list(key), count)
        return gauge

    def _exports(self) -> Iterator[Metric]:
        """Per tenant exporting after its syncs: its latest export's outcome, the rows it set
        aside (values the destination cannot hold: a success, not a failure) and the time of
        its latest success (one query per exporting tenant, on its index)."""
        failing = _gauge(
            "metasync_export_failing",
            "1 when the tenant's latest warehouse export failed",
            ["tenant"],
        )
        succeeded = _gauge(
            "metasync_export_last_success_timestamp_seconds",
            "when the tenant's latest successful warehouse export finished",
            ["tenant"],
        )
        rejected = _gauge(
            "metasync_export_rejected_rows",
            "rows the tenant's latest warehouse export set aside, not written: values the "
            "destination cannot hold (named on the run)",
            ["tenant"],
        )
        for target in ExportTarget.objects(enabled=True).only("tenant_id"):
            runs = ExportRun.objects(tenant_id=target.tenant_id, status__ne="running")
            latest = runs.order_by("-started_at").only("status", "rejected_count").first()
            failing.add_metric(
                [target.tenant_id], float(latest is not None and latest.status == "failed")
            )
            set_aside = (latest.rejected_count or 0) if latest is not None else 0
            rejected.add_metric([target.tenant_id], float(set_aside))
            done = (
                runs.filter(status="succeeded").order_by("-started_at").only("finished_at").first()
            )
            if done is not None and done.finished_at is not None:
                succeeded.add_metric([target.tenant_id], done.finished_at.timestamp())
        yield from (failing, rejected, succeeded)


def add_metrics_route(
    app: FastAPI, settings: Settings, client: redis.Redis, keys: RedisKeys
) -> None:
    """``GET /metrics``: 401 without ``Authorization: Bearer <METRICS_TOKEN>`` unless
    ``METRICS_PUBLIC=true``. The scrape token is its own secret, not an operator's password:
    it opens nothing else, and checking it costs a SHA-256 (digests compared in constant time,
    so neither the token's length nor its prefix leaks), never a password hash."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MirrorCollector(client, keys))
    token = settings.METRICS_TOKEN
    expected = digest(token.get_secret_value()).encode() if token is not None else None

    def allowed(authorization: str | None) -> bool:
        if settings.METRICS_PUBLIC:
            return True
        scheme, _, presented = (authorization or "").partition(" ")
        return (
            expected is not None
            and scheme.lower() == "bearer"
            and hmac.compare_digest(digest(presented.strip()).encode(), expected)
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not allowed(request.headers.get("authorization")):
            return Response(
                "a scrape token is required: Authorization: Bearer <METRICS_TOKEN>",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metasync metrics"'},
            )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
