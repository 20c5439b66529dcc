"""What a security review of the console found, each with the test that failed before its fix:
login landing, password guessing, sessions that outlived logout and password changes, cookies
behind a TLS proxy, cross-origin posts, and the headers every page needs."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import redis
from fastapi.testclient import TestClient

from metasync.config import load_settings
from metasync.console import auth
from metasync.console.auth import ConsoleUsers, hash_password
from metasync.models import MetaConnection, OperatorAction
from tests.integration.api.test_console import PASSWORD, _act
from tests.support.api_mirror import TenantMirror, build_tenant
from tests.support.console import ORIGIN, csrf_of, login, post_form


@pytest.fixture
def acme(mongo: str) -> TenantMirror:
    return build_tenant("acme", 1)


def _page(acme: TenantMirror) -> str:
    return f"/console/accounts/{acme.connection_id}/{acme.account_id}"


def test_logging_in_lands_where_the_person_was_going(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    """Before: from /console/login (where "Log out" lands) or after one mistyped password,
    the right password landed on the login form again."""
    client = make_client()
    assert login(client, PASSWORD, next="/console/login").headers["location"] == "/console"
    client.cookies.clear()
    asked = client.get(_page(acme))
    assert asked.status_code == 401 and f'value="{_page(acme)}"' in asked.text
    assert login(client, "mistyped password", next=_page(acme)).status_code == 401
    retried = client.post(
        "/console/login", headers={"Origin": ORIGIN}, follow_redirects=False,
        data={"username": "ops", "password": PASSWORD, "next": _page(acme),
              "csrf": csrf_of(client.get(f"/console/login?next={_page(acme)}").text)},
    )  # fmt: skip
    assert retried.status_code == 303 and retried.headers["location"] == _page(acme)
    assert client.get("/console/login", follow_redirects=False).headers["location"] == "/console"
    for elsewhere in ("https://evil.example/", "//evil.example/console", "/console/logout"):
        client.cookies.clear()
        assert login(client, PASSWORD, next=elsewhere).headers["location"] == "/console"


def test_failed_logins_earn_waits_per_address_and_per_user(
    make_client: Callable[..., TestClient], web_env: dict[str, str], redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Before: guesses were unlimited, each one an argon2id check of 64 MiB."""
    checks: list[str] = []
    real = ConsoleUsers.check
    monkeypatch.setattr(ConsoleUsers, "check", lambda s, n, p: checks.append(n) or real(s, n, p))
    client = make_client(LOGIN_FREE_FAILURES="3")
    for _ in range(3):
        assert login(client, "guess").status_code == 401
    earned = login(client, "guess")
    assert earned.status_code == 401, "the fourth failure is checked, and earns a wait"
    blocked = login(client, PASSWORD)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert len(checks) == 4, "a waiting address or user costs no password check"
    other_address = TestClient(client.app, client=("10.9.9.9", 1000))
    assert login(other_address, PASSWORD).status_code == 429, "the user waits everywhere"
    assert login(other_address, PASSWORD, user="nobody").status_code == 401
    keys = redis_client.keys(f"{web_env['REDIS_KEY_PREFIX']}web:login-wait:*")
    redis_client.delete(*keys)
    assert login(client, PASSWORD).status_code == 303, "after the wait the right password works"


def test_password_checks_at_once_are_bounded(
    web_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 48 clients guessing at once held 48 x 64 MiB."""
    monkeypatch.setattr(auth, "CHECK_QUEUE_SECONDS", 0.05)
    users = ConsoleUsers(load_settings({**web_env, "PASSWORD_CHECKS_AT_ONCE": "1"}))
    assert users.slots.acquire(timeout=1)  # the one slot is busy
    with pytest.raises(auth.ChecksBusy, match="too many password checks"):
        users.check("ops", PASSWORD)
    users.slots.release()
    assert users.check("ops", PASSWORD)


def test_sessions_end_at_logout_and_at_a_password_change(
    make_client: Callable[..., TestClient], acme: TenantMirror, web_env: dict[str, str],
    redis_client: redis.Redis,
) -> None:  # fmt: skip
    """Before: a cookie copied before logout worked for 12 h; a password change ended nothing."""
    client = make_client()
    login(client, PASSWORD)
    copied = client.cookies["metasync_console"]
    [session] = redis_client.keys(f"{web_env['REDIS_KEY_PREFIX']}web:session:*")
    assert 0 < redis_client.ttl(session) <= 12 * 3600, "a session's age is bounded"
    assert copied.encode() not in session, "Redis holds a digest of the cookie, not the cookie"
    post_form(client, "/console/logout", {}, "/console")
    thief = make_client()
    thief.cookies.set("metasync_console", copied, path="/console")
    assert thief.get("/console").status_code == 401, "the copied cookie died at logout"

    login(client, PASSWORD)
    kept = client.cookies["metasync_console"]
    changed = make_client(CONSOLE_USERS=f"ops:{hash_password('the new password')}")
    changed.cookies.set("metasync_console", kept, path="/console")
    assert changed.get("/console").status_code == 401, "a password change ends old sessions"
    assert login(changed, "the new password").status_code == 303


def test_cookies_are_secure_behind_a_trusted_tls_proxy_only(
    make_client: Callable[..., TestClient],
) -> None:
    """Before: behind a TLS proxy not on loopback the cookie was never Secure."""
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    app = make_client(WEB_TRUSTED_PROXIES="10.0.0.2").app
    behind = TestClient(app, client=("10.0.0.2", 443), headers=proxied)
    answer = login(behind, PASSWORD, origin="https://testserver")
    assert answer.status_code == 303
    assert "secure" in answer.headers["set-cookie"].lower()
    stranger = TestClient(app, client=("10.0.0.3", 443), headers=proxied)
    answer = login(stranger, PASSWORD)
    assert answer.status_code == 303, "an untrusted proxy's https claim is ignored"
    assert "secure" not in answer.headers["set-cookie"].lower()


def test_cross_origin_and_tokenless_posts_are_refused(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    """Before: a form on another port or a sibling subdomain ran "Sync now" with the session."""
    client = make_client()
    login(client, PASSWORD)
    token = csrf_of(client.get(_page(acme)).text)
    target = f"/console/connections/{acme.connection_id}/pause"
    for origin in ("http://testserver:8443", "http://shop.testserver", "null"):
        answer = client.post(target, data={"csrf": token}, headers={"Origin": origin})
        assert answer.status_code == 403 and "origin" in answer.text.lower(), origin
    assert client.post(target, data={"csrf": token}).status_code == 403, "no Origin at all"
    tokenless = client.post(target, headers={"Origin": ORIGIN})
    assert tokenless.status_code == 403 and "CSRF" in tokenless.text
    assert MetaConnection.objects.get(pk=acme.connection_id).status == "ACTIVE"
    assert OperatorAction.objects.count() == 0
    assert _act(client, acme, "pause").status_code == 303, "the console's own form works"
    forged = {"username": "ops", "password": PASSWORD, "csrf": "forged"}
    guessed = client.post("/console/login", headers={"Origin": ORIGIN}, data=forged)
    assert guessed.status_code == 403, "the login form needs its own signed token"


def test_every_console_answer_has_the_security_headers(
    make_client: Callable[..., TestClient], acme: TenantMirror
) -> None:
    """Before: the console could be framed and had no CSP, nosniff, Referrer-Policy or
    no-store."""
    client = make_client()
    login(client, PASSWORD)
    for path in ("/console/login", "/console", _page(acme), "/console/overview/table"):
        answer = client.get(path)
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy, path
        assert "script-src 'self'" in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["cache-control"] == "no-store"
        assert not re.search(r"<script(?![^>]*\ssrc=)", answer.text), f"inline script in {path}"
        assert "<style" not in answer.text and " style=" not in answer.text, path
    assert client.get("/api/v1/accounts").headers["x-content-type-options"] == "nosniff"
