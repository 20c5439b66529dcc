"""``metasync keys rotate`` as a real process: every kind of encrypted record moves to the new
key, so once the old key is dropped tokens still decrypt and exports still run; a record no key
opens is named and fails the command; a rotation cut short is finished by running it again."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from metasync.config import load_settings
from metasync.crypto import TokenCipher, UnknownKeyError
from metasync.export.destinations import schema_for
from metasync.export.targets import destination_url, export_stored, set_target
from metasync.models import ENCRYPTED_KINDS, ExportTarget, MetaConnection, rotate_kind
from metasync.models.encrypted import KindRotation, _rotate_record
from tests.integration.test_cli import run, with_database
from tests.support.sandbox import Sandbox

TOKEN = "sandbox-token-for-rotation-0123456789"
PASSWORD = "warehouse-password-for-rotation"
KINDS = ("connection tokens", "export destinations")


def counts(stdout: str) -> dict[str, tuple[int, int, int]]:
    """{kind: (re-encrypted, already current, unreadable)} read from the command's table."""
    found = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃]", line) if cell.strip()]
        if len(cells) == 4 and cells[0] in KINDS:
            found[cells[0]] = (int(cells[1]), int(cells[2]), int(cells[3]))
    return found


def with_password(url: str) -> str:
    """``url`` with a password (the test server trusts local connections, so it is not
    checked, but it is a credential the destination's envelope holds)."""
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{PASSWORD}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def keyed(env: dict[str, str], current: str, *old: str) -> dict[str, str]:
    return {**env, "ENCRYPTION_KEY": current, "ENCRYPTION_OLD_KEYS": ",".join(old)}


def test_after_rotating_and_dropping_the_old_key_tokens_decrypt_and_exports_run(
    sync_env: dict[str, str],
    world: Sandbox,
    synced_first: list[MetaConnection],
    postgres_url: str,
) -> None:
    key_a, key_b = sync_env["ENCRYPTION_KEY"], secrets.token_hex(32)
    under_a = TokenCipher(key_a)
    connection = synced_first[0]
    tenant = connection.tenant_id
    set_target(under_a, tenant, with_password(postgres_url))

    rotated = run(["keys", "rotate"], keyed(sync_env, key_b, key_a))
    assert rotated.returncode == 0, rotated.stderr
    assert counts(rotated.stdout) == {
        "connection tokens": (2, 0, 0),  # the world's two users; the first one synced
        "export destinations": (1, 0, 0),
    }, rotated.stdout
    output = rotated.stdout + rotated.stderr
    tokens = {f"tenant-{user['id']}": user["token"] for user in world.info["users"]}
    for secret in (key_a, key_b, PASSWORD, *tokens.values()):
        assert secret not in output

    only_b = load_settings(keyed(sync_env, key_b))
    assert only_b.ENCRYPTION_OLD_KEYS == ()
    cipher_b = TokenCipher(only_b.ENCRYPTION_KEY.get_secret_value())
    for stored in MetaConnection.objects:
        assert stored.access_token(cipher_b) == tokens[stored.tenant_id]
        assert stored.token_key_id == cipher_b.current_key_id
    target = ExportTarget.objects.get(tenant_id=tenant)
    with pytest.raises(UnknownKeyError):
        destination_url(under_a, target)  # the old key opens nothing any more

    result = export_stored(cipher_b, only_b, tenant)
    assert result is not None and result.rows["basic_ad"] > 0
    with psycopg.connect(postgres_url) as con:
        row = con.execute(f"SELECT count(*) FROM {schema_for(tenant)}.basic_ad".encode()).fetchone()
    assert row is not None and row[0] == result.rows["basic_ad"]


@pytest.mark.usefixtures("mongo")
def test_a_record_under_an_unknown_key_is_named_and_fails_the_command(
    env: dict[str, str], mongo_uri: str, mongo: str
) -> None:
    key_a, key_b, lost_key = (secrets.token_hex(32) for _ in range(3))
    under_a, under_lost = TokenCipher(key_a), TokenCipher(lost_key)
    good = MetaConnection(tenant_id="t1", meta_user_id="u1")
    good.set_access_token(under_a, TOKEN)
    good.save()
    lost = MetaConnection(tenant_id="t1", meta_user_id="u2")
    lost.set_access_token(under_lost, TOKEN)
    lost.save()
    set_target(under_a, "t1", f"postgresql://etl:{PASSWORD}@warehouse:5432/analytics")
    lost_target = set_target(under_lost, "t2", "duckdb:///var/lib/metasync/t2.duckdb")
    rotate_env = keyed({**env, "MONGODB_URI": with_database(mongo_uri, mongo)}, key_b, key_a)

    dry = run(["keys", "rotate", "--dry-run"], rotate_env)
    assert dry.returncode == 1
    assert counts(dry.stdout) == {"connection tokens": (1, 0, 1), "export destinations": (1, 0, 1)}
    assert MetaConnection.objects.get(pk=good.pk).token_key_id == under_a.current_key_id

    result = run(["keys", "rotate"], rotate_env)
    assert result.returncode == 1
    assert counts(result.stdout) == {
        "connection tokens": (1, 0, 1),
        "export destinations": (1, 0, 1),
    }, result.stdout
    assert f"unreadable: connection tokens record {lost.pk}:" in result.stderr
    assert f"unreadable: export destinations record {lost_target.pk}:" in result.stderr
    assert f"key id {under_lost.current_key_id}, which is not configured" in result.stderr
    for secret in (key_a, key_b, lost_key, TOKEN, PASSWORD):
        assert secret not in result.stdout + result.stderr
    only_b = TokenCipher(key_b)
    assert MetaConnection.objects.get(pk=good.pk).access_token(only_b) == TOKEN
    assert PASSWORD in destination_url(only_b, ExportTarget.objects.get(tenant_id="t1"))


@pytest.mark.usefixtures("mongo")
def test_a_rotation_cut_short_is_finished_by_running_it_again(
    env: dict[str, str], mongo_uri: str, mongo: str
) -> None:
    key_a, key_b = secrets.token_hex(32), secrets.token_hex(32)
    under_a, rotating = TokenCipher(key_a), TokenCipher(key_b, [key_a])
    for n in range(3):
        connection = MetaConnection(tenant_id=f"t{n}", meta_user_id="u")
        connection.set_access_token(under_a, f"{TOKEN}-{n}")
        connection.save()
        set_target(under_a, f"t{n}", f"duckdb:///var/lib/metasync/t{n}.duckdb")
    # Cut short: the tokens were done, then one destination, then the process died.
    assert rotate_kind(rotating, ENCRYPTED_KINDS[0]).rotated == 3
    set_target(rotating, "t0", "duckdb:///var/lib/metasync/t0.duckdb")
    rotate_env = keyed({**env, "MONGODB_URI": with_database(mongo_uri, mongo)}, key_b, key_a)

    finished = run(["keys", "rotate"], rotate_env)
    assert finished.returncode == 0, finished.stderr
    assert counts(finished.stdout) == {
        "connection tokens": (0, 3, 0),
        "export destinations": (2, 1, 0),
    }, finished.stdout
    again = run(["keys", "rotate"], rotate_env)
    assert counts(again.stdout) == {
        "connection tokens": (0, 3, 0),
        "export destinations": (0, 3, 0),
    }
    only_b = TokenCipher(key_b)
    for n in range(3):
        assert MetaConnection.objects.get(tenant_id=f"t{n}").access_token(only_b) == f"{TOKEN}-{n}"
        assert destination_url(only_b, ExportTarget.objects.get(tenant_id=f"t{n}")).endswith(
            f"t{n}.duckdb"
        )


@pytest.mark.usefixtures("mongo")
def test_a_token_rewritten_during_rotation_is_not_overwritten_by_the_stale_one() -> None:
    key_a, key_b = secrets.token_hex(32), secrets.token_hex(32)
    rotating = TokenCipher(key_b, [key_a])
    connection = MetaConnection(tenant_id="t1", meta_user_id="u1")
    connection.set_access_token(TokenCipher(key_a), TOKEN)
    connection.save()
    kind = ENCRYPTED_KINDS[0]
    read_by_rotation = kind.document._get_collection().find_one({"_id": connection.pk})
    connection.set_access_token(rotating, "refreshed-token")  # a refresh, after the read
    connection.save()

    report = KindRotation(kind.name)
    _rotate_record(rotating, kind, read_by_rotation, report, dry_run=False)
    assert (report.rotated, report.current, report.unreadable) == (0, 1, [])
    stored = MetaConnection.objects.get(pk=connection.pk)
    assert stored.access_token(TokenCipher(key_b)) == "refreshed-token"
