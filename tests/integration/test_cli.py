"""The ``metasync`` command, run as a real process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest

from metasync.crypto import TokenCipher, key_id_for
from metasync.models import MetaConnection, ReportAccess, ReportAccessState


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metasync", *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def with_database(uri: str, name: str) -> str:
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def test_help_lists_commands() -> None:
    result = run(["--help"], {})
    assert result.returncode == 0, result.stderr
    for command in ("config", "db", "keys", "version"):
        assert command in result.stdout


def test_bad_configuration_exits_2_naming_the_variable(env: dict[str, str]) -> None:
    secret = "Z" * 64
    result = run(["config", "check"], {**env, "ENCRYPTION_KEY": secret})
    assert result.returncode == 2
    assert "ENCRYPTION_KEY: is invalid: expected 64 hexadecimal characters" in result.stderr
    assert secret not in result.stderr + result.stdout


def test_config_check_never_prints_secrets(env: dict[str, str]) -> None:
    result = run(["config", "check"], env)
    assert result.returncode == 0, result.stderr
    assert "ENCRYPTION_KEY: set (secret)" in result.stdout
    assert "REDIS_KEY_PREFIX: metasync:" in result.stdout  # not a secret: shown
    # as written in the environment, not Python's repr (a tuple, None, False)
    assert "META_INSIGHTS_LEVELS: account,campaign,adset,ad" in result.stdout
    assert "ALERT_WEBHOOK_URL: unset" in result.stdout
    assert "METRICS_PUBLIC: false" in result.stdout
    assert "None" not in result.stdout and "('" not in result.stdout, result.stdout
    assert env["ENCRYPTION_KEY"] not in result.stdout
    assert env["META_APP_SECRET"] not in result.stdout


def test_config_check_refuses_an_expired_api_version_and_warns_about_an_unknown_one(
    env: dict[str, str],
) -> None:
    expired = run(["config", "check"], {**env, "META_API_VERSION": "v21.0"})
    assert expired.returncode == 2
    assert "META_API_VERSION: is invalid: v21.0 expired on 2025-09-09" in expired.stderr
    assert "set META_API_VERSION to v26.0" in expired.stderr
    newer = run(["config", "check"], {**env, "META_API_VERSION": "v99.0"})
    assert newer.returncode == 0, newer.stderr
    assert "warning: META_API_VERSION: v99.0 is newer than metasync's version table" in (
        newer.stderr
    )
    plain = run(["config", "check"], env)
    assert "warning" not in plain.stderr


def test_generated_key_is_valid() -> None:
    key = run(["keys", "generate"], {}).stdout.strip()
    assert len(key) == 64
    TokenCipher(key)


@pytest.mark.usefixtures("mongo")
def test_keys_rotate_re_encrypts_stored_tokens(
    env: dict[str, str], mongo_uri: str, mongo: str
) -> None:
    old_key = secrets.token_hex(32)
    connection = MetaConnection(tenant_id="t1", meta_user_id="u1")
    connection.set_access_token(TokenCipher(old_key), "sandbox-token-for-rotation")
    connection.save()
    rotate_env = {
        **env,
        "MONGODB_URI": with_database(mongo_uri, mongo),
        "ENCRYPTION_OLD_KEYS": old_key,
    }
    dry = run(["keys", "rotate", "--dry-run"], rotate_env)
    assert dry.returncode == 0 and "would re-encrypt" in dry.stdout
    assert MetaConnection.objects.get(pk=connection.pk).token_key_id == key_id_for(
        bytes.fromhex(old_key)
    )
    result = run(["keys", "rotate"], rotate_env)
    assert result.returncode == 0, result.stderr
    assert "re-encrypted" in result.stdout
    stored = MetaConnection.objects.get(pk=connection.pk)
    assert stored.access_token(TokenCipher(env["ENCRYPTION_KEY"])) == "sandbox-token-for-rotation"


@pytest.mark.usefixtures("mongo")
def test_db_init_creates_indexes(env: dict[str, str], mongo_uri: str) -> None:
    name = f"cli_{secrets.token_hex(4)}"
    result = run(["db", "init"], {**env, "MONGODB_URI": with_database(mongo_uri, name)})
    assert result.returncode == 0, result.stderr
    client = MetaConnection._get_collection().database.client
    try:
        assert "natural_key" in client[name]["daily_insights"].index_information()
    finally:
        client.drop_database(name)


def test_sandbox_serve_help_explains_the_options() -> None:
    result = run(["sandbox", "serve", "--help"], {"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for option in (
        "--seed",
        "--users",
        "--ads-per-adset",
        "--days",
        "--app-secret",
        "--faults",
        "--budgets",
        "error_5xx_rate",
        "job_stuck_rate",
    ):
        assert option in result.stdout


def test_sandbox_serve_rejects_bad_fault_json() -> None:
    result = run(["sandbox", "serve", "--faults", "{nope"], {})
    assert result.returncode == 2
    assert "--faults must be a JSON object" in result.stderr
    unknown = run(["sandbox", "serve", "--faults", '{"no_such": 1}'], {})
    assert unknown.returncode == 2 and "no_such" in unknown.stderr


@pytest.mark.usefixtures("mongo")
def test_reports_access_names_the_accounts_meta_withholds_reports_from(
    env: dict[str, str], mongo_uri: str, mongo: str
) -> None:
    """An account without Meta's breakdown opt-in (2026-08-03) says "not opted in", with the
    evidence, instead of looking like one that delivered nothing."""
    MetaConnection(tenant_id="acme", meta_user_id="u1").save()  # a tenant the CLI knows
    ReportAccess(
        tenant_id="acme", account_id="4242", report="placement_device",
        state=ReportAccessState.NOT_OPTED_IN, delivered_impressions=987,
        checked_since="2026-11-30", checked_until="2026-12-01",
    ).save()  # fmt: skip
    ReportAccess(
        tenant_id="acme", account_id="4343", report="placement_device",
        state=ReportAccessState.AVAILABLE,
    ).save()  # fmt: skip
    result = run(
        ["reports", "access", "--tenant", "acme"],
        {**env, "MONGODB_URI": with_database(mongo_uri, mongo), "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    withheld = next(line for line in lines if "4242" in line)
    assert "not opted in" in withheld and "987 impressions" in withheld
    assert "available" in next(line for line in lines if "4343" in line)
    assert "1 account-reports not opted in" in result.stdout
