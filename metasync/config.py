"""Settings: the only module that reads the environment.

Every variable is typed and validated once, by :func:`load_settings`. A bad or missing value
raises :class:`ConfigurationError`, whose message names each variable and what it expects and
never echoes the value (several of them are secrets).

Decisions recorded here:

- ``META_APP_VERIFY_TOKEN`` is optional: only the webhook app needs it, and it refuses to start
  without it. Workers, beat and the CLI run without one.
- ``ENCRYPTION_KEY`` is the current key (new data is encrypted with it); ``ENCRYPTION_OLD_KEYS``
  is a comma-separated list of retired keys that still decrypt stored tokens and export
  destinations until ``metasync keys rotate`` has re-encrypted them.
- ``REDIS_URL`` accepts ``redis://``, ``rediss://`` and ``unix://`` (a socket file, as the
  embedded Redis of the demo uses). :attr:`Settings.celery_broker_url` translates it for kombu.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from metasync.variables import EXPECTS as _EXPECTS
from metasync.versions import DEFAULT_VERSION, version_status

__all__ = [
    "ConfigurationError",
    "Settings",
    "api_version_warning",
    "environment_value",
    "get_settings",
    "load_settings",
]

_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")
_API_VERSION = re.compile(r"^v\d+\.\d+$")


# A validator's message that starts with this is shown as it is (it names no secret).
_EXPLAINED = "explained: "


# the access tiers' names before Meta's rename of 2026-05-04 -> today's
TIER_NAMES = {"standard": "limited", "advanced": "full", "development": "limited"}


class ConfigurationError(Exception):
    """A variable is missing or invalid. ``problems`` maps each variable name to what it expects."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        lines = [f"  {name}: {expected}" for name, expected in sorted(self.problems.items())]
        super().__init__("invalid configuration:\n" + "\n".join(lines))


def _hex_key(value: SecretStr) -> SecretStr:
    if not _HEX_KEY.match(value.get_secret_value()):
        raise ValueError("must be 64 hexadecimal characters (a 32-byte AES-256 key)")
    return value


def _url_with_scheme(*schemes: str) -> AfterValidator:
    def check(value: str) -> str:
        if not value.startswith(schemes) or len(value) <= len(min(schemes, key=len)):
            raise ValueError(f"must be a URL starting with {' or '.join(schemes)}")
        return value

    return AfterValidator(check)


def _is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address; names other than ``localhost`` are not resolved."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MongoURI = Annotated[str, _url_with_scheme("mongodb://", "mongodb+srv://")]
RedisURL = Annotated[str, _url_with_scheme("redis://", "rediss://", "unix://")]
HttpURL = Annotated[str, _url_with_scheme("http://", "https://")]
EncryptionKey = Annotated[SecretStr, AfterValidator(_hex_key)]


class Settings(BaseModel):
    """The validated configuration of one metasync process. Field names are the variable names."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    META_API_VERSION: str = DEFAULT_VERSION
    META_APP_ID: str
    META_APP_SECRET: SecretStr
    META_APP_VERIFY_TOKEN: SecretStr | None = None
    META_GRAPH_URL: HttpURL = "https://graph.facebook.com"
    # Meta's Feature Settings API lives on its own host (+ /<META_API_VERSION>/marketing-api)
    META_ADS_API_URL: HttpURL = "https://ads-api.facebook.com"
    META_SYNC_INTERVAL_MINUTES: int = Field(240, ge=1, le=10080)
    PERFORMANCE_SYNC_INTERVAL_MINUTES: int = Field(60, ge=1, le=10080)
    MONGODB_URI: MongoURI = Field(repr=False)  # may carry a password
    REDIS_URL: RedisURL = Field(repr=False)
    ENCRYPTION_KEY: EncryptionKey
    ENCRYPTION_OLD_KEYS: tuple[EncryptionKey, ...] = ()
    META_RATE_LIMIT_CALLS_PER_HOUR: int = Field(180, ge=1, le=100_000)
    META_RATE_LIMIT_WARN_RATIO: float = Field(0.9, gt=0, le=1)
    META_API_ACCESS_TIER: Literal["limited", "full"] = "limited"
    SYNC_SUBTASKS_IN_FLIGHT: int = Field(32, ge=1, le=10_000)
    META_USAGE_SLOWDOWN_PCT: float = Field(85.0, ge=1, le=100)
    META_HTTP_CONNECT_TIMEOUT: float = Field(5.0, ge=0.1, le=120)
    META_HTTP_READ_TIMEOUT: float = Field(60.0, ge=1, le=600)
    META_MAX_RETRIES: int = Field(3, ge=0, le=10)
    META_RETRY_BASE_SECONDS: float = Field(1.0, ge=0, le=60)
    LOG_LEVEL: str = "INFO"
    REDIS_KEY_PREFIX: str = Field("metasync:", pattern=r"^[A-Za-z0-9_.:\-]+:$")
    META_FULL_SYNC_HOURS: int = Field(24, ge=1, le=720)
    META_SYNC_OVERLAP_MINUTES: int = Field(10, ge=0, le=1440)
    META_TOMBSTONE_MAX_SHARE: float = Field(0.2, ge=0, le=1)
    META_ACCOUNT_DISCOVERY_HOURS: int = Field(24, ge=1, le=720)
    META_TOKEN_REFRESH_DAYS: int = Field(7, ge=1, le=50)
    META_INSIGHTS_LEVELS: tuple[str, ...] = ("account", "campaign", "adset", "ad")
    META_INSIGHTS_INITIAL_DAYS: int = Field(30, ge=1, le=1100)
    META_INSIGHTS_LOOKBACK_DAYS: int = Field(28, ge=1, le=90)
    META_INSIGHTS_RECENT_DAYS: int = Field(3, ge=1, le=28)
    META_INSIGHTS_SYNC_MAX_DAYS: int = Field(14, ge=1, le=90)
    META_CONVERSION_ACTION_TYPES: tuple[str, ...] = (
        "purchase",
        "offsite_conversion.fb_pixel_purchase",
        "omni_purchase",
    )
    META_REPORT_STUCK_SECONDS: int = Field(120, ge=1, le=7200)
    META_REPORT_POLL_SECONDS: int = Field(5, ge=1, le=600)
    META_OPT_IN_RECHECK_HOURS: int = Field(24, ge=1, le=720)
    META_REPORT_INVISIBLE_SECONDS: int = Field(600, ge=10, le=3600)
    BROKER_VISIBILITY_TIMEOUT_SECONDS: int = Field(7200, ge=5, le=86400)
    RUN_STALL_SECONDS: int = Field(900, ge=5, le=86400)
    RUN_RECOVERY_INTERVAL_SECONDS: int = Field(300, ge=1, le=86400)
    OPTIMIZER_LEASE_SECONDS: int = Field(660, ge=5, le=86400)
    EXPORT_BATCH_ROWS: int = Field(5000, ge=100, le=100000)
    EXPORT_LEASE_SECONDS: int = Field(600, ge=5, le=86400)
    WAREHOUSE_SECRETS_DIR: str = "/run/secrets/metasync"
    FX_RATES_URL: str = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
    RUN_RETENTION_DAYS: int = Field(90, ge=1, le=3650)
    # Lead Ads (metasync.leads): a lead (its answers are personal data) is erased this many days
    # after Meta's created_time; forms and leads are read again every LEAD_SYNC_INTERVAL_MINUTES
    LEAD_RETENTION_DAYS: int = Field(365, ge=1, le=3650)
    LEAD_SYNC_INTERVAL_MINUTES: int = Field(60, ge=1, le=10080)
    CONSOLE_USERS: SecretStr | None = None  # hashes only, still kept out of reprs and logs
    METRICS_PUBLIC: bool = False
    METRICS_TOKEN: SecretStr | None = Field(None, min_length=16)
    FLOWER_BASIC_AUTH: SecretStr | None = None  # checked by `metasync flower`
    FLOWER_TASK_CONTROL: bool = False
    CONSOLE_SESSION_HOURS: int = Field(12, ge=1, le=168)
    CONSOLE_ORIGIN: str | None = Field(None, pattern=r"^https?://[^/\s]+$")
    WEB_TRUSTED_PROXIES: str = "127.0.0.1"
    LOGIN_FREE_FAILURES: int = Field(5, ge=1, le=100)
    LOGIN_MAX_WAIT_SECONDS: int = Field(900, ge=1, le=86400)
    PASSWORD_CHECKS_AT_ONCE: int = Field(2, ge=1, le=64)
    API_REQUESTS_PER_MINUTE: int = Field(120, ge=1, le=100_000)
    API_BURST: int = Field(60, ge=1, le=100_000)
    RECOMMENDATION_RETENTION_DAYS: int = Field(730, ge=1, le=36500)
    AUDIT_RETENTION_DAYS: int = Field(2555, ge=30, le=36500)  # seven years: kept longest
    OPERATOR_ACTION_RETENTION_DAYS: int = Field(730, ge=1, le=36500)
    ACTIVITY_RETENTION_DAYS: int = Field(400, ge=1, le=36500)
    RECONCILIATION_RETENTION_DAYS: int = Field(400, ge=1, le=36500)
    ALERT_WEBHOOK_ALLOW_PLAINTEXT_HTTP: bool = False  # before the URL: its validator reads it
    ALERT_WEBHOOK_URL: SecretStr | None = None  # a Slack webhook URL is itself a credential
    ALERT_WEBHOOK_CA_FILE: str | None = None
    ALERT_SMTP_URL: SecretStr | None = None
    ALERT_SMTP_CA_FILE: str | None = None
    ALERT_SMTP_ALLOW_PLAINTEXT_LOGIN: bool = False
    ALERT_EMAIL_FROM: str = "metasync@localhost"
    ALERT_EMAIL_TO: tuple[str, ...] = ()

    @field_validator("META_API_ACCESS_TIER", mode="before")
    @classmethod
    def _tier(cls, value: object) -> object:
        """Meta renamed the tiers on 2026-05-04: Standard is Limited, Advanced is Full."""
        text = str(value).strip().lower().removesuffix("_access")
        return TIER_NAMES.get(text, text)

    @field_validator("META_API_VERSION")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if not _API_VERSION.match(value):
            raise ValueError("bad version")
        status = version_status(value, datetime.now(UTC).date())
        if not status.usable:
            raise ValueError(_EXPLAINED + status.message)
        return value

    @field_validator("META_APP_ID")
    @classmethod
    def _app_id(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("not numeric")
        return value

    @field_validator("META_APP_SECRET", "META_APP_VERIFY_TOKEN")
    @classmethod
    def _non_empty_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("empty")
        return value

    @field_validator("META_INSIGHTS_LEVELS", "META_CONVERSION_ACTION_TYPES", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("META_INSIGHTS_LEVELS")
    @classmethod
    def _levels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(level not in ("account", "campaign", "adset", "ad") for level in value):
            raise ValueError("bad level")
        return value

    @field_validator("ENCRYPTION_OLD_KEYS", "ALERT_EMAIL_TO", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("CONSOLE_USERS")
    @classmethod
    def _console_users(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        for entry in filter(None, (e.strip() for e in value.get_secret_value().split(";"))):
            name, _, hashed = entry.partition(":")
            if not name.strip() or not hashed.startswith("$argon2"):
                raise ValueError(f"entry for {name.strip() or '?'!r} is not name:argon2-hash")
        return value

    @field_validator("ALERT_WEBHOOK_URL")
    @classmethod
    def _alert_webhook(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """https, or http to this host only unless said in words: a Slack webhook's URL is its
        credential, and over http it crosses the network readable (and so does every alert)."""
        if value is None:
            return None
        url = urlsplit(value.get_secret_value())
        if url.scheme not in ("https", "http") or not url.hostname:
            raise ValueError(_EXPLAINED + "expected " + _EXPECTS["ALERT_WEBHOOK_URL"])
        plain_allowed = info.data.get("ALERT_WEBHOOK_ALLOW_PLAINTEXT_HTTP", False)
        if url.scheme == "http" and not plain_allowed and not _is_loopback(url.hostname):
            raise ValueError(
                _EXPLAINED + "http:// to a host that is not loopback would send the URL (a "
                "credential) and every alert readable over the network: use https://, or set "
                "ALERT_WEBHOOK_ALLOW_PLAINTEXT_HTTP=true for a receiver on a trusted network"
            )
        return value

    @field_validator("ALERT_SMTP_URL")
    @classmethod
    def _alert_smtp(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = urlsplit(value.get_secret_value())
        try:
            url.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError("bad port") from None
        if url.scheme not in ("smtp", "smtps") or not url.hostname:
            raise ValueError("bad scheme")
        return value

    @field_validator("ALERT_WEBHOOK_CA_FILE", "ALERT_SMTP_CA_FILE")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        """Read once here, so that a wrong path stops the process at start-up instead of
        failing the first alert of an outage. Every process that loads settings reads it."""
        if value is None:
            return None
        try:
            ssl.create_default_context(cafile=value)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ValueError(
                _EXPLAINED + f"cannot be read as a PEM file of CA certificates ({reason})"
            ) from None
        return value

    @field_validator("WEB_TRUSTED_PROXIES")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        """Every entry an IP address or network: a host name or a typo would otherwise trust
        nothing without a word, and ``*`` would believe what any client writes."""
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if not entries:
            raise ValueError(_EXPLAINED + "lists no proxy address or network")
        for entry in entries:
            try:
                every_address = entry == "*" or ipaddress.ip_network(entry).prefixlen == 0
            except ValueError:
                raise ValueError(
                    _EXPLAINED + f"{entry!r} is not an IP address or network (host names are "
                    "not resolved; a network's host bits are zero, e.g. 10.0.0.0/24)"
                ) from None
            if every_address:
                raise ValueError(
                    _EXPLAINED + f"{entry!r} is refused: trusting every address takes the "
                    "client's address from X-Forwarded-For, which any client writes; list the "
                    "exact address of each of your proxies instead (e.g. 10.0.0.2)"
                )
        return ",".join(entries)

    @field_validator("LOG_LEVEL")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("bad level")
        return value.upper()

    @property
    def graph_base_url(self) -> str:
        """Base URL including the API version, without a trailing slash."""
        return f"{self.META_GRAPH_URL.rstrip('/')}/{self.META_API_VERSION}"

    @property
    def ads_api_base_url(self) -> str:
        """The Feature Settings API's base URL: its own host, the Graph API's version, then
        ``/marketing-api`` (Meta's page "Feature Settings API"); no trailing slash."""
        return f"{self.META_ADS_API_URL.rstrip('/')}/{self.META_API_VERSION}/marketing-api"

    @property
    def celery_broker_url(self) -> str:
        """``REDIS_URL`` in kombu's spelling (``unix://`` becomes ``redis+socket://``)."""
        if self.REDIS_URL.startswith("unix://"):
            return "redis+socket://" + self.REDIS_URL.removeprefix("unix://")
        return self.REDIS_URL


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Validate ``environ`` (default: the process environment) into :class:`Settings`.

    Empty strings count as unset, so ``FOO=`` in a compose file falls back to the default.
    """
    source = os.environ if environ is None else environ
    values = {name: source[name] for name in Settings.model_fields if source.get(name, "") != ""}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors(include_input=False, include_url=False, include_context=False):
            name = str(error["loc"][0]) if error["loc"] else "?"
            expected = _EXPECTS.get(name, "a valid value")
            _, explained, explanation = str(error.get("msg", "")).partition(_EXPLAINED)
            problems[name] = (
                f"is required: set it to {expected}"
                if error["type"] == "missing"
                else f"is invalid: {explanation}"
                if explained
                else f"is invalid: expected {expected}"
            )
        raise ConfigurationError(problems) from None


def api_version_warning(settings: Settings, now: datetime | None = None) -> str | None:
    """A warning when ``META_API_VERSION`` expires within 90 days or is newer than metasync's
    version table; None when it is plainly live. Start-up logs it, ``config check`` prints it."""
    status = version_status(settings.META_API_VERSION, (now or datetime.now(UTC)).date())
    return None if status.state == "live" else status.message


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return load_settings()


def environment_value(name: str) -> str | None:
    """One named variable that is not a setting (e.g. a token handed to ``connections add``)."""
    value = os.environ.get(name)
    return value if value else None
