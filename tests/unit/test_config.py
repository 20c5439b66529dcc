"""Settings: every variable validated, errors name the variable and never echo a secret."""

from __future__ import annotations

import pytest

from metasync.config import ConfigurationError, Settings, load_settings

GOOD_KEY = "ab" * 32
VALID = {
    "META_APP_ID": "1234567890",
    "META_APP_SECRET": "app-secret-value-xyz",
    "MONGODB_URI": "mongodb://127.0.0.1:27017/metasync",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ENCRYPTION_KEY": GOOD_KEY,
}


def problems_for(**overrides: str) -> dict[str, str]:
    environ = {**VALID, **overrides}
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ)
    return caught.value.problems


def test_valid_environment_gives_documented_defaults() -> None:
    settings = load_settings(VALID)
    assert settings.META_API_VERSION == "v26.0"
    assert settings.META_SYNC_INTERVAL_MINUTES == 240
    assert settings.PERFORMANCE_SYNC_INTERVAL_MINUTES == 60
    assert settings.META_RATE_LIMIT_CALLS_PER_HOUR == 180
    assert pytest.approx(0.9) == settings.META_RATE_LIMIT_WARN_RATIO
    assert settings.META_MAX_RETRIES == 3
    assert settings.graph_base_url == "https://graph.facebook.com/v26.0"
    assert settings.ENCRYPTION_OLD_KEYS == ()
    assert settings.META_API_ACCESS_TIER == "limited"
    assert settings.SYNC_SUBTASKS_IN_FLIGHT == 32


def test_an_unknown_access_tier_is_named_with_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"META_API_ACCESS_TIER.*limited or full"):
        load_settings({**VALID, "META_API_ACCESS_TIER": "premium"})


@pytest.mark.parametrize(
    "name", ["META_APP_ID", "META_APP_SECRET", "MONGODB_URI", "REDIS_URL", "ENCRYPTION_KEY"]
)
def test_missing_required_variable_is_named(name: str) -> None:
    environ = {key: value for key, value in VALID.items() if key != name}
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ)
    assert set(caught.value.problems) == {name}
    assert f"{name}: is required" in str(caught.value)


def test_empty_string_counts_as_missing() -> None:
    assert "META_APP_SECRET" in problems_for(META_APP_SECRET="")


@pytest.mark.parametrize(
    ("name", "value", "expects"),
    [
        ("ENCRYPTION_KEY", "abc123", "64 hexadecimal characters"),
        ("ENCRYPTION_KEY", "zz" * 32, "64 hexadecimal characters"),
        ("ENCRYPTION_KEY", "ab" * 33, "64 hexadecimal characters"),
        ("ENCRYPTION_OLD_KEYS", f"{GOOD_KEY},nothex", "retired 64-hex-character keys"),
        ("META_API_VERSION", "21.0", "version such as v26.0"),
        ("META_APP_ID", "my-app", "numeric id"),
        ("META_APP_SECRET", "   ", "non-empty"),
        ("META_APP_VERIFY_TOKEN", "  ", "non-empty"),
        ("META_GRAPH_URL", "graph.facebook.com", "base URL"),
        ("META_SYNC_INTERVAL_MINUTES", "often", "whole number of minutes"),
        ("META_SYNC_INTERVAL_MINUTES", "0", "whole number of minutes"),
        ("PERFORMANCE_SYNC_INTERVAL_MINUTES", "-5", "whole number of minutes"),
        ("MONGODB_URI", "postgres://localhost/db", "MongoDB URI"),
        ("REDIS_URL", "http://localhost:6379", "Redis URL"),
        ("META_RATE_LIMIT_CALLS_PER_HOUR", "0", "platform calls"),
        ("META_RATE_LIMIT_WARN_RATIO", "1.5", "fraction"),
        ("META_USAGE_SLOWDOWN_PCT", "150", "usage percentage"),
        ("META_HTTP_CONNECT_TIMEOUT", "0", "TCP connection"),
        ("META_HTTP_READ_TIMEOUT", "never", "response"),
        ("META_MAX_RETRIES", "11", "retried"),
        ("META_RETRY_BASE_SECONDS", "-1", "backoff delay"),
        ("LOG_LEVEL", "LOUD", "DEBUG, INFO"),
        ("METRICS_TOKEN", "short", "bearer token"),
        ("CONSOLE_ORIGIN", "https://ops.example.com/console", "public origin"),
        ("CONSOLE_SESSION_HOURS", "0", "hours a console session"),
        ("API_REQUESTS_PER_MINUTE", "0", "requests one API key"),
        ("AUDIT_RETENTION_DAYS", "7", "audit entries"),
        ("ALERT_WEBHOOK_URL", "hooks.slack.com/x", "Slack-compatible"),
        ("ALERT_SMTP_URL", "mail.example.com", "smtp://"),
    ],
)
def test_invalid_value_names_variable_and_expectation(name: str, value: str, expects: str) -> None:
    problems = problems_for(**{name: value})
    assert list(problems) == [name]
    assert "is invalid" in problems[name]
    assert expects in problems[name]


def test_several_problems_are_reported_together() -> None:
    problems = problems_for(ENCRYPTION_KEY="short", REDIS_URL="nope", META_APP_ID="x")
    assert set(problems) == {"ENCRYPTION_KEY", "REDIS_URL", "META_APP_ID"}


def test_secret_values_never_appear_in_errors() -> None:
    secret_key = "Q" * 64  # 64 characters but not hex: invalid
    with pytest.raises(ConfigurationError) as caught:
        load_settings(
            {
                **VALID,
                "ENCRYPTION_KEY": secret_key,
                "META_APP_SECRET": "  ",
                "ENCRYPTION_OLD_KEYS": "deadbeef-old-key",
                "REDIS_URL": "http://user:pw-xyz@h",
            }
        )
    text = str(caught.value) + repr(caught.value) + repr(caught.value.problems)
    for secret in (secret_key, "deadbeef-old-key", "pw-xyz"):
        assert secret not in text
    assert caught.value.__cause__ is None  # pydantic's error, which holds inputs, is not chained


def test_repr_hides_secrets_and_uris() -> None:
    settings = load_settings({**VALID, "MONGODB_URI": "mongodb://u:mongo-pw@h/db"})
    text = repr(settings) + str(settings)
    assert "app-secret-value-xyz" not in text
    assert GOOD_KEY not in text
    assert "mongo-pw" not in text


def test_old_keys_are_split_on_commas() -> None:
    other = "cd" * 32
    settings = load_settings({**VALID, "ENCRYPTION_OLD_KEYS": f" {other} , {GOOD_KEY},"})
    assert [key.get_secret_value() for key in settings.ENCRYPTION_OLD_KEYS] == [other, GOOD_KEY]


def test_unix_socket_redis_url_becomes_kombu_socket_url() -> None:
    settings = load_settings({**VALID, "REDIS_URL": "unix:///tmp/metasync/redis.sock"})
    assert settings.celery_broker_url == "redis+socket:///tmp/metasync/redis.sock"
    assert load_settings(VALID).celery_broker_url == VALID["REDIS_URL"]


def test_unknown_variables_are_ignored_and_settings_are_frozen() -> None:
    settings = load_settings({**VALID, "UNRELATED": "x"})
    with pytest.raises(Exception, match="frozen"):
        settings.META_API_VERSION = "v1.0"  # type: ignore[misc]
    assert not hasattr(settings, "UNRELATED")


def test_every_field_has_an_expectation_text() -> None:
    from metasync import config

    assert set(Settings.model_fields) == set(config._EXPECTS)


@pytest.mark.parametrize("version", ["v21.0", "v24.0", "v19.0"])
def test_an_expired_api_version_is_refused_naming_the_version_to_use(version: str) -> None:
    problems = problems_for(META_API_VERSION=version)
    assert list(problems) == ["META_API_VERSION"]
    assert "set META_API_VERSION to v26.0" in problems["META_API_VERSION"]
    assert "v25.0, v26.0, v27.0" in problems["META_API_VERSION"]


def test_a_version_near_its_expiry_is_warned_about() -> None:
    from datetime import UTC, datetime

    from metasync.config import api_version_warning

    settings = load_settings({**VALID, "META_API_VERSION": "v25.0"})
    warning = api_version_warning(settings, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert warning is not None and "expires on 2027-02-23 (in 84 days)" in warning
    assert api_version_warning(settings, now=datetime(2026, 9, 1, tzinfo=UTC)) is None
    assert api_version_warning(load_settings(VALID)) is None


def test_version_table_states() -> None:
    from datetime import date

    from metasync.versions import version_status

    today = date(2026, 12, 1)
    assert version_status("v24.0", today).state == "expired"
    assert version_status("v25.0", today).state == "expiring"
    assert version_status("v26.0", today).state == "live"
    assert version_status("v28.0", today).state == "unknown"
    assert version_status("v25.0", date(2027, 2, 23)).state == "expired"


@pytest.mark.parametrize(
    ("given", "tier"),
    [
        ("Standard", "limited"),
        ("advanced", "full"),
        ("Full_Access", "full"),
        ("limited", "limited"),
    ],
)
def test_access_tiers_are_taken_under_both_names(given: str, tier: str) -> None:
    """Meta renamed the tiers on 2026-05-04: Standard is now Limited, Advanced is Full."""
    settings = load_settings({**VALID, "META_API_ACCESS_TIER": given})
    assert tier == settings.META_API_ACCESS_TIER
