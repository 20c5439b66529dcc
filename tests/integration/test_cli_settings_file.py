"""One way to reach a running metasync: ``metasync --env-file FILE`` (or ``METASYNC_ENV_FILE``)
loads the settings a demo or a deployment wrote; ``--version`` and help text a person reads."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from metasync.models import MetaConnection, SyncRun
from metasync.settings_file import read_settings_file, write_settings_file
from tests.integration.test_cli import run, with_database


def _one_run() -> tuple[str, str]:
    connection = MetaConnection(tenant_id="acme", meta_user_id="u1").save()
    found = SyncRun(connection_id=str(connection.pk), tenant_id="acme", kind="entities").save()
    return str(found.pk), str(connection.pk)


@pytest.mark.usefixtures("mongo")
def test_runs_reads_its_settings_from_the_file_the_demo_writes(
    env: dict[str, str], mongo_uri: str, mongo: str, tmp_path: Path
) -> None:
    run_id, connection_id = _one_run()
    file = tmp_path / ".metasync" / "demo.env"
    settings = {
        **env,
        "MONGODB_URI": with_database(mongo_uri, mongo),
        "CONSOLE_USERS": "ops:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",  # holds $: literal
    }
    write_settings_file(file, settings)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert read_settings_file(file) == settings
    assert env["ENCRYPTION_KEY"] in file.read_text()  # the secrets are there, and only there
    without = run(["runs"], {})
    assert without.returncode == 2 and "MONGODB_URI: is required" in without.stderr
    for args, variables in (
        (["--env-file", str(file), "runs"], {"COLUMNS": "200"}),
        (["runs"], {"METASYNC_ENV_FILE": str(file), "COLUMNS": "200"}),
    ):
        result = run(args, variables)
        assert result.returncode == 0, result.stderr
        assert run_id in result.stdout and connection_id in result.stdout
        assert "acme" in result.stdout  # the tenant beside the connection id
        assert result.stderr == ""


def test_a_missing_settings_file_is_named_and_the_environment_wins_with_a_warning(
    env: dict[str, str], tmp_path: Path
) -> None:
    missing = run(["--env-file", str(tmp_path / "nope.env"), "config", "check"], {})
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"error: settings file {tmp_path / 'nope.env'} does not exist: start `metasync demo` "
        "(it writes one) or give the path it printed"
    )
    file = tmp_path / "metasync.env"
    write_settings_file(file, {**env, "REDIS_KEY_PREFIX": "demo:"})
    os.chmod(file, 0o644)
    mixed = run(["--env-file", str(file), "config", "check"], {"REDIS_KEY_PREFIX": "mine:"})
    assert mixed.returncode == 0, mixed.stderr
    assert "REDIS_KEY_PREFIX: mine:" in mixed.stdout
    assert f"warning: the environment sets REDIS_KEY_PREFIX otherwise than {file}" in mixed.stderr
    assert f"others may read it: chmod 600 {file}" in mixed.stderr
    assert env["ENCRYPTION_KEY"] not in mixed.stdout + mixed.stderr


def test_a_value_a_settings_file_cannot_carry_is_refused_by_name(tmp_path: Path) -> None:
    from metasync.settings_file import SettingsFileError

    with pytest.raises(SettingsFileError, match=r"^ALERT_EMAIL_FROM holds a single quote"):
        write_settings_file(tmp_path / "x.env", {"ALERT_EMAIL_FROM": "o'brien@example.com"})
    assert not (tmp_path / "x.env").exists()


def test_version_is_an_option() -> None:
    from metasync import __version__

    result = run(["--version"], {})
    assert result.returncode == 0 and result.stdout.strip() == f"metasync {__version__}"


@pytest.mark.parametrize(
    "command",
    [[], ["demo"], ["sync"], ["console", "hash-password"], ["export", "run"], ["rules"]],
)
def test_help_has_no_markup_artefacts(command: list[str]) -> None:
    """Docstrings are the help: RST backticks and roles are taken out, flags show no
    ``<bool>``, and a paragraph is not broken where the docstring's lines were."""
    result = run([*command, "--help"], {"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for artefact in ("``", ":func:", ":class:", "<bool>"):
        assert artefact not in text, (artefact, text)
    assert "Usage: metasync" in text
    if command == ["console", "hash-password"]:
        assert "Print a CONSOLE_USERS entry (user:argon2id-hash) for user" in text
    if not command:
        assert "--env-file" in text and "--version" in text and "tenants" in text


def test_help_names_values_not_python_types() -> None:
    """An option that takes a value shows the value's name (``LEVEL``), not typer's Python
    type (``<list[str]>``, ``<int range> [x>=1]``); a number's bound is said in words."""
    result = run(["sync-performance", "--help"], {"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for artefact in ("<list[str]>", "<int range>", "[x>=1]", "<str>", "<float>"):
        assert artefact not in text, (artefact, text)
    assert "--level" in text and "LEVEL" in text and "INTERVAL" in text
    assert "Minutes between loops (at least 1)." in text
