"""Whose address a login is counted against behind a proxy: only listed proxies are believed,
the client is the rightmost X-Forwarded-For entry that is not one of them, and settings refuse
any list that would believe every client (the in-process ASGI client, with the connecting
address chosen by the test; the login throttle on real Redis)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from metasync.config import ConfigurationError, load_settings
from metasync.console.auth import ConsoleUsers
from metasync.console.guard import add_guards
from tests.integration.api.conftest import PASSWORD
from tests.support.console import login

PROXY = "10.0.0.2"
ATTACKER = "203.0.113.66"
OPERATOR = "198.51.100.7"
FREE = 3


def _via_proxy(app: ASGIApp, real: str, written: str = "") -> TestClient:
    """A client at ``real`` reaching the app through the listed proxy, which appends ``real``
    to whatever X-Forwarded-For the client ``written`` itself (nginx's
    ``$proxy_add_x_forwarded_for``)."""
    forwarded = f"{written}, {real}" if written else real
    return TestClient(app, client=(PROXY, 41000), headers={"X-Forwarded-For": forwarded})


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The user names whose password was checked, in order."""
    checked: list[str] = []
    real = ConsoleUsers.check

    def counted(users: ConsoleUsers, name: str, password: str) -> bool:
        checked.append(name)
        return real(users, name, password)

    monkeypatch.setattr(ConsoleUsers, "check", counted)
    return checked


def test_forged_leftmost_entries_do_not_spread_one_client_over_many_addresses(
    make_client: Callable[..., TestClient], checks: list[str]
) -> None:
    """Before: with ``*`` (which the README offered) each forged leftmost entry was a new
    address with a fresh allowance: 12 guesses, 12 password checks, never a wait."""
    app = make_client(WEB_TRUSTED_PROXIES=PROXY, LOGIN_FREE_FAILURES=str(FREE)).app
    answers = [
        login(_via_proxy(app, ATTACKER, f"192.0.2.{i}"), "guess", user=f"user{i}").status_code
        for i in range(12)
    ]  # a new user name each time, so only the address can stop the guesses
    assert answers == [401] * (FREE + 1) + [429] * (12 - FREE - 1), answers
    assert len(checks) == FREE + 1, "the attacker's real address is counted, whatever it writes"
    direct = TestClient(app, client=(ATTACKER, 41000), headers={"X-Forwarded-For": OPERATOR})
    assert login(direct, "guess", user="someone").status_code == 429, (
        "a client that is no listed proxy is its own address, whatever it writes"
    )


def test_a_forged_entry_naming_the_operator_does_not_lock_the_operator_out(
    make_client: Callable[..., TestClient], checks: list[str]
) -> None:
    """Before: with ``*`` the guesses were counted against the operator's address, which then
    got 429 for the right password."""
    app = make_client(WEB_TRUSTED_PROXIES=f"{PROXY}, 172.16.0.9", LOGIN_FREE_FAILURES=str(FREE)).app
    for i in range(8):
        login(_via_proxy(app, ATTACKER, OPERATOR), "guess", user=f"user{i}")
    assert login(_via_proxy(app, ATTACKER), "guess", user="other").status_code == 429
    # a second listed hop (172.16.0.9) between the operator and the proxy is skipped
    assert login(_via_proxy(app, "172.16.0.9", OPERATOR), PASSWORD).status_code == 303, (
        "the operator's own address was never charged with the attacker's failures"
    )
    assert login(_via_proxy(app, OPERATOR, ATTACKER), PASSWORD).status_code == 303


def test_a_scheme_is_believed_only_as_one_value_from_a_listed_proxy(
    make_client: Callable[..., TestClient],
) -> None:
    """The proxy must set X-Forwarded-Proto, not append to what the client sent."""
    app = make_client(WEB_TRUSTED_PROXIES=PROXY).app
    cases = {"https": True, "http, https": False, "https, http": False}
    for sent, secure in cases.items():
        client = TestClient(
            app,
            client=(PROXY, 41000),
            headers={"X-Forwarded-Proto": sent, "X-Forwarded-For": OPERATOR},
        )
        origin = "https://testserver" if secure else "http://testserver"
        answer = login(client, PASSWORD, origin=origin)
        assert answer.status_code == 303, sent
        assert ("secure" in answer.headers["set-cookie"].lower()) is secure, sent


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("*", "'*' is refused"),
        (f"{PROXY}, *", "'*' is refused"),
        ("0.0.0.0/0", "'0.0.0.0/0' is refused"),
        ("::/0", "'::/0' is refused"),
        ("10.0.0.2/24", "'10.0.0.2/24' is not an IP address or network"),
        ("proxy.internal", "'proxy.internal' is not an IP address or network"),
        (",", "lists no proxy address or network"),
    ],
)
def test_trusting_every_client_or_an_unparsed_entry_is_refused(
    web_env: dict[str, str], value: str, said: str
) -> None:
    """Before: ``*`` took the client's own leftmost entry; ``0.0.0.0/0`` did the same, and a
    host name or a network with host bits set trusted nothing without a word."""
    with pytest.raises(ConfigurationError) as refused:
        load_settings({**web_env, "WEB_TRUSTED_PROXIES": value})
    assert said in refused.value.problems["WEB_TRUSTED_PROXIES"]
    assert "WEB_TRUSTED_PROXIES" in str(refused.value)


def test_listed_addresses_and_networks_are_accepted(web_env: dict[str, str]) -> None:
    listed = load_settings({**web_env, "WEB_TRUSTED_PROXIES": " 10.0.0.2, 172.18.0.0/24 ,::1"})
    assert listed.WEB_TRUSTED_PROXIES == "10.0.0.2,172.18.0.0/24,::1"


# -- IPv6: mapped peers and /64s -----------------------------------------------------------


def test_an_ipv4_mapped_peer_is_trusted_when_its_ipv4_address_is_listed(
    make_client: Callable[..., TestClient], checks: list[str]
) -> None:
    """Before: behind ``metasync web --host ::`` the listed proxy 10.0.0.2 connects as
    ``::ffff:10.0.0.2``, was not trusted, and every client shared the proxy's count."""
    app = make_client(WEB_TRUSTED_PROXIES=PROXY, LOGIN_FREE_FAILURES=str(FREE)).app

    def via_mapped(real: str) -> TestClient:
        return TestClient(app, client=(f"::ffff:{PROXY}", 41000), headers={"X-Forwarded-For": real})

    answers = [login(via_mapped(ATTACKER), "guess", user=f"u{i}").status_code for i in range(6)]
    assert answers == [401] * (FREE + 1) + [429] * (6 - FREE - 1)
    assert login(via_mapped(OPERATOR), PASSWORD).status_code == 303, "the operator is not the proxy"


def test_addresses_in_one_ipv6_64_share_a_count_and_mapped_clients_count_as_ipv4(
    make_client: Callable[..., TestClient], checks: list[str]
) -> None:
    """Before: each IPv6 address had its own count, so a client cycling through its /64 was
    never stopped; ``::ffff:203.0.113.66`` was another address than 203.0.113.66."""
    app = make_client(WEB_TRUSTED_PROXIES=PROXY, LOGIN_FREE_FAILURES=str(FREE)).app
    spread = [f"2001:db8:1:2::{i:x}" for i in range(1, FREE + 2)]
    assert [login(_via_proxy(app, a), "guess", user=a).status_code for a in spread] == [401] * (
        FREE + 1
    )
    assert login(_via_proxy(app, "2001:db8:1:2:ffff::9"), "guess", user="x").status_code == 429
    assert login(_via_proxy(app, "2001:db8:1:3::1"), "guess", user="y").status_code == 401, (
        "the next /64 is another client"
    )
    for i in range(FREE + 1):
        login(_via_proxy(app, ATTACKER), "guess", user=f"v{i}")
    mapped = _via_proxy(app, f"::ffff:{ATTACKER}")
    assert login(mapped, "guess", user="z").status_code == 429


# -- how X-Forwarded-For is read: pinned -----------------------------------------------------


def _seen_as(
    web_env: dict[str, str], peer: str, lines: list[str], listed: str = PROXY
) -> str | None:
    """The client address the app sees when ``peer`` connects with these X-Forwarded-For
    header lines (the guards of the web app, with ``listed`` as WEB_TRUSTED_PROXIES)."""
    app = FastAPI()
    add_guards(app, load_settings({**web_env, "WEB_TRUSTED_PROXIES": listed}))

    @app.get("/who")
    def who(request: Request) -> dict[str, str | None]:
        return {"host": request.client.host if request.client else None}

    answer = TestClient(app, client=(peer, 41000)).get(
        "/who", headers=[("X-Forwarded-For", line) for line in lines]
    )
    host: str | None = answer.json()["host"]
    return host


@pytest.mark.parametrize(
    ("peer", "lines", "listed", "client"),
    [
        # several header lines are one list, read from the right
        (PROXY, [f"{OPERATOR}, 192.0.2.1", ATTACKER], PROXY, ATTACKER),
        (PROXY, [OPERATOR, f"{ATTACKER}, {PROXY}"], PROXY, ATTACKER),
        # spaces around entries are not part of them
        (PROXY, [f"  {OPERATOR} ,   {ATTACKER}  "], PROXY, ATTACKER),
        (PROXY, [f"{OPERATOR},{ATTACKER}"], PROXY, ATTACKER),
        # an IPv6 proxy and an IPv6 client, bracketed with a port or bare
        ("2001:db8::2", ["2001:db8:9::7"], "2001:db8::2", "2001:db8:9::7"),
        ("2001:db8::2", ["[2001:db8:9::7]:5000"], "2001:db8::2", "2001:db8:9::7"),
        ("2001:db8::2", [f"{OPERATOR}, 2001:db8:9::7"], "2001:db8::/64", "2001:db8:9::7"),
        # a listed IPv6 hop is skipped; an unlisted peer's header is not read
        ("2001:db8::2", [f"{OPERATOR}, 2001:db8::3"], "2001:db8::/64", OPERATOR),
        ("2001:db8:5::1", [OPERATOR], "2001:db8::/64", "2001:db8:5::1"),
        # a mapped peer is trusted through its listed IPv4 network
        ("::ffff:10.0.0.9", [OPERATOR], "10.0.0.0/24", OPERATOR),
    ],
)
def test_x_forwarded_for_lines_spaces_and_ipv6_are_read_as_pinned(
    web_env: dict[str, str], peer: str, lines: list[str], listed: str, client: str
) -> None:
    assert _seen_as(web_env, peer, lines, listed) == client
