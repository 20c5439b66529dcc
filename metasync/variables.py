"""What each configuration variable expects, in words: the catalogue :mod:`metasync.config`
quotes when a value is missing or wrong (never the value itself), one entry per field of
:class:`metasync.config.Settings` (a test holds the two equal).
"""

from __future__ import annotations

from metasync.versions import DEFAULT_VERSION

__all__ = ["EXPECTS"]

EXPECTS: dict[str, str] = {
    "META_API_VERSION": f"a live Marketing API version such as {DEFAULT_VERSION}",
    "META_APP_ID": "the numeric id of your Meta app",
    "META_APP_SECRET": "your Meta app's secret (a non-empty string)",
    "META_APP_VERIFY_TOKEN": "the webhook verify token you chose (a non-empty string)",
    "META_GRAPH_URL": "the Graph API base URL, https://graph.facebook.com or the sandbox's",
    "META_ADS_API_URL": "the Feature Settings API's host, https://ads-api.facebook.com or the "
    "sandbox's /ads-api",
    "META_SYNC_INTERVAL_MINUTES": "a whole number of minutes from 1 to 10080",
    "PERFORMANCE_SYNC_INTERVAL_MINUTES": "a whole number of minutes from 1 to 10080",
    "MONGODB_URI": "a MongoDB URI (mongodb://host:port/database)",
    "REDIS_URL": "a Redis URL (redis://host:port/db, rediss://... or unix:///path/to/socket)",
    "ENCRYPTION_KEY": "64 hexadecimal characters (a 32-byte AES-256 key)",
    "ENCRYPTION_OLD_KEYS": "a comma-separated list of retired 64-hex-character keys",
    "META_RATE_LIMIT_CALLS_PER_HOUR": "platform calls (/me, debug_token, token exchange) per hour"
    " per connection (1-100000)",
    "META_API_ACCESS_TIER": "limited or full (the app's Marketing API access tier; the names "
    "before 2026-05-04, standard and advanced, are taken too)",
    "SYNC_SUBTASKS_IN_FLIGHT": "subtasks one run keeps queued or running at once (1-10000)",
    "META_RATE_LIMIT_WARN_RATIO": "a fraction of the hourly budget between 0 and 1 (e.g. 0.9)",
    "META_USAGE_SLOWDOWN_PCT": "a usage percentage between 1 and 100 above which calls slow down",
    "META_HTTP_CONNECT_TIMEOUT": "seconds to wait for a TCP connection (0.1-120)",
    "META_HTTP_READ_TIMEOUT": "seconds to wait for a response (1-600)",
    "META_MAX_RETRIES": "how many times a transient error is retried in-process (0-10)",
    "META_RETRY_BASE_SECONDS": "the first backoff delay in seconds (0-60), doubled each retry",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "REDIS_KEY_PREFIX": "letters, digits, '_', '-', '.' or ':', ending with ':' (metasync:)",
    "META_FULL_SYNC_HOURS": "hours between full reconciliations of a connection (1-720)",
    "META_SYNC_OVERLAP_MINUTES": "minutes re-read before the last incremental sync (0-1440)",
    "META_ACCOUNT_DISCOVERY_HOURS": "hours between readings of /me/adaccounts for connections "
    "added without an explicit account list (1-720)",
    "META_TOKEN_REFRESH_DAYS": "days before a user token's expiry when the daily check "
    "exchanges it for a fresh one (1-50)",
    "META_TOMBSTONE_MAX_SHARE": "the share of an edge's live objects (0-1, e.g. 0.2) one run may "
    "tombstone without reading each by id first",
    "META_INSIGHTS_LEVELS": "a comma-separated subset of account,campaign,adset,ad",
    "META_INSIGHTS_INITIAL_DAYS": "days read by a connection's first performance sync (1-1100)",
    "META_INSIGHTS_LOOKBACK_DAYS": "days re-read once a day for late attribution (1-90)",
    "META_INSIGHTS_RECENT_DAYS": "days re-read by every scheduled performance sync (1-28)",
    "META_INSIGHTS_SYNC_MAX_DAYS": "longest range read synchronously; longer ones use jobs (1-90)",
    "META_CONVERSION_ACTION_TYPES": "comma-separated action types counted as conversions, "
    "first found wins (e.g. purchase,offsite_conversion.fb_pixel_purchase)",
    "META_REPORT_STUCK_SECONDS": "seconds a report job may sit at 100 % before it is retried",
    "META_REPORT_INVISIBLE_SECONDS": "seconds a started report job may keep answering (100, 33) "
    "before it is started again or split (10-3600)",
    "META_REPORT_POLL_SECONDS": "seconds between polls of a running report job (1-600)",
    "META_OPT_IN_RECHECK_HOURS": (
        "hours between asks of an opt-in report for an account that has not opted in (1-720)"
    ),
    "BROKER_VISIBILITY_TIMEOUT_SECONDS": "seconds before an unacknowledged task is delivered "
    "again (5-86400); keep it above task time limits (600) and countdowns (3000) in production",
    "RUN_STALL_SECONDS": "seconds a running sync may make no progress, past any wait it asked "
    "for, before its unfinished subtasks are queued again (5-86400)",
    "RUN_RETENTION_DAYS": "days sync runs, report jobs and webhook events are kept (1-3650)",
    "LEAD_RETENTION_DAYS": "days a lead and its answers are kept after Meta received it (1-3650)",
    "LEAD_SYNC_INTERVAL_MINUTES": "minutes between reads of each connection's lead forms (1-10080)",
    "OPTIMIZER_LEASE_SECONDS": "seconds a lease on writing a recommendation lasts (5-86400)",
    "EXPORT_BATCH_ROWS": "mirror documents per warehouse transaction (100-100000)",
    "EXPORT_LEASE_SECONDS": "seconds one export holds its tenant's destination (5-86400)",
    "WAREHOUSE_SECRETS_DIR": "directory of the files a bigquery:// or snowflake:// destination "
    "names with ?secret= (a service-account JSON file, a password or a private key)",
    "FX_RATES_URL": "where daily reference rates are read (an ECB-shaped CSV or zip, http(s) "
    "or a path)",
    "RUN_RECOVERY_INTERVAL_SECONDS": "seconds between beat's checks for stalled runs (1-86400)",
    "CONSOLE_USERS": "name:hash pairs separated by ';', each hash from "
    "`metasync console hash-password` (argon2id)",
    "METRICS_PUBLIC": "true to serve /metrics without credentials (default false)",
    "METRICS_TOKEN": "the bearer token Prometheus scrapes /metrics with (16+ characters)",
    "FLOWER_BASIC_AUTH": "user:password pairs separated by commas, each password generated "
    "(openssl rand -hex 16)",
    "FLOWER_TASK_CONTROL": "true to let Flower queue, revoke and rate-limit tasks and control "
    "workers (default false: read-only)",
    "CONSOLE_SESSION_HOURS": "hours a console session lasts at most (1-168)",
    "CONSOLE_ORIGIN": "the console's public origin, scheme://host[:port] (no path)",
    "WEB_TRUSTED_PROXIES": "comma-separated IP addresses or networks (e.g. 10.0.0.2) of the "
    "proxies in front of the web app, whose X-Forwarded-For/-Proto are believed; each listed "
    "address is trusted completely, so list each proxy's exact address",
    "LOGIN_FREE_FAILURES": "failed logins per address or user before each one costs a wait (1-100)",
    "LOGIN_MAX_WAIT_SECONDS": "the longest wait a run of failed logins earns (1-86400)",
    "PASSWORD_CHECKS_AT_ONCE": "password checks (64 MiB each) one web process runs at once (1-64)",
    "API_REQUESTS_PER_MINUTE": "requests one API key may make per minute, sustained (1-100000)",
    "API_BURST": "requests one API key may make at once above that rate (1-100000)",
    "RECOMMENDATION_RETENTION_DAYS": "days settled recommendations are kept (1-36500)",
    "AUDIT_RETENTION_DAYS": "days the optimizer's audit entries are kept (30-36500)",
    "OPERATOR_ACTION_RETENTION_DAYS": "days operators' actions are kept (1-36500)",
    "ACTIVITY_RETENTION_DAYS": "days Meta's activity history is kept (1-36500)",
    "RECONCILIATION_RETENTION_DAYS": "days reconciliation results are kept (1-36500)",
    "ALERT_WEBHOOK_URL": "a Slack-compatible incoming webhook URL, https://... (http:// only to "
    "a loopback host, or with ALERT_WEBHOOK_ALLOW_PLAINTEXT_HTTP=true)",
    "ALERT_WEBHOOK_CA_FILE": "a readable PEM file of the CA certificates the alert webhook's "
    "certificate must chain to (default: requests' CA bundle)",
    "ALERT_WEBHOOK_ALLOW_PLAINTEXT_HTTP": "true to allow an http:// alert webhook on a host that "
    "is not loopback (default false: its URL is a credential)",
    "ALERT_SMTP_URL": "smtp://[user:password@]host[:port] or smtps://... for alert email",
    "ALERT_SMTP_CA_FILE": "a readable PEM file of the CA certificates the SMTP server's "
    "certificate must chain to (default: the system's store)",
    "ALERT_SMTP_ALLOW_PLAINTEXT_LOGIN": "true to send the SMTP password to a server that offers "
    "no STARTTLS (default false)",
    "ALERT_EMAIL_FROM": "the sender address of alert email",
    "ALERT_EMAIL_TO": "comma-separated recipients of alert email",
}
