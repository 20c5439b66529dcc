"""Flower's credentials rule and its gate, on plain values (the server: test_flower_command)."""

from __future__ import annotations

import base64

import pytest

from workers.flower_gate import (
    HOW_TO_SET,
    MIN_PASSWORD_LENGTH,
    BasicAuthGate,
    FailedLoginBucket,
    FlowerCredentialsError,
    parse_credentials,
)

GOOD = "ops:9d2f6b1c04ae73e8"


def basic(pair: str) -> str:
    return "Basic " + base64.b64encode(pair.encode()).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "is required"),
        ("  ", "is required"),
        ("admin:change-me", "has an example password for 'admin'"),
        ("admin:admin", "has an example password for 'admin'"),
        ("ops:password", "has an example password for 'ops'"),
        ("ops:Password12345678", "has an example password for 'ops'"),
        ("ops:CHANGEME-0123456", "has an example password for 'ops'"),
        ("prometheus:prometheus", "has an example password for 'prometheus'"),
        ("ops:3f9c1e7a52d", "has a password for 'ops' shorter than 12 characters"),
        ("ops:aaaaaaaaaaaaaaaa", "has a password for 'ops' of repeated characters"),
        ("ops", "entry 1 is not user:password"),
        (":9d2f6b1c04ae73e8", "entry 1 is not user:password"),
        (f"{GOOD},prometheus:", "entry 2 is not user:password"),
        (
            f"{GOOD},ops:9d2f6b1c04ae73e8\u00e9",
            "entry 2 has a character outside ASCII, which Flower's login cannot compare "
            "(it answers 500)",
        ),
        (
            "\u00f6ps:9d2f6b1c04ae73e8",
            "entry 1 has a character outside ASCII, which Flower's "
            "login cannot compare (it answers 500)",
        ),
    ],
)
def test_a_missing_short_or_example_password_is_refused_naming_the_variable(
    value: str | None, problem: str
) -> None:
    """One line: the variable, the problem (naming the user, never the password) and how to
    make a password."""
    with pytest.raises(FlowerCredentialsError) as raised:
        parse_credentials(value)
    assert str(raised.value) == f"FLOWER_BASIC_AUTH: {problem}; {HOW_TO_SET}"
    assert "openssl rand -hex 16" in HOW_TO_SET
    assert MIN_PASSWORD_LENGTH == 12


def test_generated_passwords_are_accepted_one_pair_per_login() -> None:
    value = f" {GOOD} , prometheus:61c0ffee2b7d4a95e3 "
    assert parse_credentials(value) == (GOOD, "prometheus:61c0ffee2b7d4a95e3")


def test_the_gate_admits_each_pair_and_refuses_anything_else() -> None:
    gate = BasicAuthGate((GOOD, "prometheus:61c0ffee2b7d4a95e3"), FailedLoginBucket())
    assert gate.admit(basic(GOOD)).status == 200
    assert gate.admit(basic("prometheus:61c0ffee2b7d4a95e3")).status == 200
    for header in (
        None,
        "",
        basic("ops:9d2f6b1c04ae73e9"),
        basic("prometheus:9d2f6b1c04ae73e8"),  # a password, but another user's
        "Bearer 9d2f6b1c04ae73e8",
        "Basic not-base64!",
        basic(GOOD)[:-2],
    ):
        assert gate.admit(header).status == 401, header


def test_wrong_guesses_beyond_the_burst_are_not_checked_until_the_bucket_refills() -> None:
    """Reserved before the comparison: the 11th guess is answered 429 without a check, even
    when it is right, and the right credentials pass again a second later."""
    clock = Clock()
    gate = BasicAuthGate((GOOD,), FailedLoginBucket(burst=10, per_second=1.0, clock=clock))
    answers = [gate.admit(basic(f"ops:wrong-guess-{n}")).status for n in range(200)]
    assert answers[:10] == [401] * 10
    assert set(answers[10:]) == {429}
    throttled = gate.admit(basic(GOOD))
    assert throttled.status == 429 and throttled.retry_after == 1
    assert gate.admit(None).status == 401, "no guess, no token spent, no 429"
    clock.now += 1.0
    assert gate.admit(basic(GOOD)).status == 200
    assert gate.admit(basic(GOOD)).status == 200, "a right login gives its token back"
    assert gate.admit(basic("ops:wrong-again-0")).status == 401
    assert gate.admit(basic("ops:wrong-again-1")).status == 429
    clock.now += 30.0
    assert [gate.admit(basic(f"ops:x{n}")).status for n in range(11)] == [401] * 10 + [429]


def test_right_logins_spend_nothing() -> None:
    gate = BasicAuthGate((GOOD,), FailedLoginBucket(burst=2, clock=Clock()))
    for _ in range(100):
        assert gate.admit(basic(GOOD)).admitted
    assert [gate.admit(basic("ops:nope-nope-nope")).status for _ in range(3)] == [401, 401, 429]
