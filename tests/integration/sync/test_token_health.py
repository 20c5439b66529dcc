"""The daily token check: refresh before expiry, warn before data access ends."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from metasync.health.pages import one_health
from metasync.keys import RedisKeys
from metasync.models import ConnectionStatus, MetaConnection
from metasync.sync import SyncContext
from metasync.sync.token_health import check_tokens, refresh_now, token_warning
from tests.support.sandbox import Sandbox


def test_a_user_token_within_the_refresh_window_is_exchanged(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """Before: only a run starting within 5 minutes of the expiry refreshed the token, so a
    connection synced hourly went EXPIRED about every two months."""
    connection = connections[0]
    old_token = connection.access_token(ctx.cipher)
    world.control("POST", "tokens/expire", {"token": old_token, "in_seconds": 3 * 86400})
    (check, *_) = [c for c in check_tokens(ctx) if c.connection_id == str(connection.pk)]
    assert check.refreshed and check.warning is None
    connection.reload()
    assert connection.access_token(ctx.cipher) != old_token
    assert connection.token_expires_at - datetime.now(UTC) > timedelta(days=50)
    assert connection.status == ConnectionStatus.ACTIVE
    assert world.client().get("me").body  # the old token still works until its expiry


def test_data_access_ending_soon_flags_the_connection(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection = connections[0]
    world.control(
        "POST",
        "tokens/expire",
        {"user_id": connection.meta_user_id, "what": "data_access", "in_seconds": 5 * 86400},
    )
    with caplog.at_level(logging.WARNING, logger="metasync"):
        checks = {c.connection_id: c for c in check_tokens(ctx)}
    warning = checks[str(connection.pk)].warning
    assert warning is not None and "data access ends on" in warning
    assert checks[str(connections[1].pk)].warning is None
    connection.reload()
    assert connection.token_warning == warning
    assert connection.data_access_expires_at is not None
    assert any("data access ends" in r.getMessage() for r in caplog.records)


def test_an_invalid_token_marks_only_its_connection(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    broken, fine = connections
    world.control("POST", "tokens/expire", {"user_id": broken.meta_user_id})
    checks = {c.connection_id: c for c in check_tokens(ctx)}
    assert checks[str(broken.pk)].error
    assert MetaConnection.objects.get(pk=broken.pk).status == ConnectionStatus.EXPIRED
    assert MetaConnection.objects.get(pk=fine.pk).status == ConnectionStatus.ACTIVE
    assert checks[str(fine.pk)].error is None


def test_token_warning_rule() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert token_warning(now + timedelta(days=30), now + timedelta(days=60), now) is None
    assert token_warning(None, None, now) is None  # system user tokens never expire
    soon = token_warning(now + timedelta(days=6), now + timedelta(days=6, hours=1), now)
    assert soon is not None
    assert "the token expires on 2026-12-07" in soon and "data access ends on 2026-12-07" in soon
    assert token_warning(now + timedelta(days=8), None, now) is None


def test_a_refresh_records_the_data_access_meta_answers_now(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """Before: the operator's refresh only exchanged the token, so the console's "data access
    ends in 89d" kept the answer of the last daily check after the person granted again."""
    connection = connections[0]
    account = connection.ad_account_ids[0]
    before = one_health(None, RedisKeys("unused:"), str(connection.pk), account)
    assert before is not None and before.data_access_expires_at is not None
    world.control(
        "POST",
        "tokens/expire",
        {"user_id": connection.meta_user_id, "what": "data_access", "in_seconds": 30 * 86400},
    )
    answer = refresh_now(ctx, str(connection.pk))
    assert answer["status"] == "refreshed", answer
    after = one_health(None, RedisKeys("unused:"), str(connection.pk), account)
    assert after is not None and after.data_access_expires_at is not None
    left = after.data_access_expires_at - datetime.now(UTC)
    assert timedelta(days=29) < left <= timedelta(days=30), left
    assert after.data_access_expires_at != before.data_access_expires_at
    connection.reload()
    assert connection.token_checked_at is not None
