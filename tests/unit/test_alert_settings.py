"""The alert channels' settings: only schemes that protect what they carry, CA files read at
start-up, and errors that name the variable without echoing the URL (it is a credential)."""

from __future__ import annotations

from pathlib import Path

import pytest

from metasync.config import ConfigurationError, load_settings

VALID = {
    "META_APP_ID": "1234567890",
    "META_APP_SECRET": "app-secret-value-xyz",
    "MONGODB_URI": "mongodb://127.0.0.1:27017/metasync",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ENCRYPTION_KEY": "ab" * 32,
}


def problems_for(**overrides: str) -> dict[str, str]:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**VALID, **overrides})
    assert "secret-xyz" not in str(caught.value), "the URL's secret is not echoed"
    return caught.value.problems


def test_defaults_verify_and_refuse_clear_text() -> None:
    settings = load_settings(VALID)
    assert settings.ALERT_WEBHOOK_CA_FILE is None and settings.ALERT_SMTP_CA_FILE is None
    assert settings.ALERT_WEBHOOK_ALLOW_PLAINTEXT_HTTP is False
    assert settings.ALERT_SMTP_ALLOW_PLAINTEXT_LOGIN is False


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.test/services/secret-xyz",
        "file:///services/secret-xyz",
        "javascript:alert(1)//secret-xyz",
        "https:///services/secret-xyz",  # no host
        "hooks.example.test/services/secret-xyz",
    ],
)
def test_a_webhook_scheme_other_than_https_is_refused_by_name(url: str) -> None:
    problems = problems_for(ALERT_WEBHOOK_URL=url)
    assert list(problems) == ["ALERT_WEBHOOK_URL"]
    assert "Slack-compatible incoming webhook URL, https://" in problems["ALERT_WEBHOOK_URL"]


def test_http_goes_only_to_loopback_unless_a_setting_says_so() -> None:
    remote = "http://hooks.example.test/services/secret-xyz"
    problems = problems_for(ALERT_WEBHOOK_URL=remote)
    assert list(problems) == ["ALERT_WEBHOOK_URL"]
    assert "not loopback" in problems["ALERT_WEBHOOK_URL"]
    assert "ALERT_WEBHOOK_ALLOW_PLAINTEXT_HTTP=true" in problems["ALERT_WEBHOOK_URL"]
    allowed = load_settings(
        {**VALID, "ALERT_WEBHOOK_URL": remote, "ALERT_WEBHOOK_ALLOW_PLAINTEXT_HTTP": "true"}
    )
    assert allowed.ALERT_WEBHOOK_URL is not None
    for local in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]:80/h"):
        assert load_settings({**VALID, "ALERT_WEBHOOK_URL": local}).ALERT_WEBHOOK_URL


@pytest.mark.parametrize(
    "url", ["http://mail.example.test", "smtp://", "smtp://mail.example.test:twenty-five"]
)
def test_an_smtp_url_needs_its_scheme_host_and_a_numeric_port(url: str) -> None:
    problems = problems_for(ALERT_SMTP_URL=url)
    assert list(problems) == ["ALERT_SMTP_URL"] and "smtp://" in problems["ALERT_SMTP_URL"]


@pytest.mark.parametrize("name", ["ALERT_SMTP_CA_FILE", "ALERT_WEBHOOK_CA_FILE"])
def test_a_ca_file_that_cannot_be_read_stops_the_start(name: str, tmp_path: Path) -> None:
    missing = problems_for(**{name: str(tmp_path / "absent.pem")})
    assert missing == {
        name: "is invalid: cannot be read as a PEM file of CA certificates "
        "(No such file or directory)"
    }
    (tmp_path / "not.pem").write_text("not a certificate\n")
    assert "cannot be read as a PEM file" in problems_for(**{name: str(tmp_path / "not.pem")})[name]
