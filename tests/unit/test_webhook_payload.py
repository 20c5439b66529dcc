"""Webhook signatures and payload parsing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from metasync.webhooks import PayloadError, SignatureError, parse_notification, verify_signature

SECRET = "webhook-test-secret"
BODY = json.dumps(
    {
        "object": "ad_account",
        "entry": [
            {
                "id": "123",
                "time": 1700000000,
                "changes": [
                    {"field": "with_issues_ad_objects", "value": {"id": "9", "level": "AD"}},
                    {"field": "in_process_ad_objects", "value": {"id": "8", "level": "CAMPAIGN"}},
                ],
            },
            {
                "id": "act_456",
                "time": 1700000001,
                "changes": [{"field": "creative_fatigue", "value": {"ad_id": "7"}}],
            },
        ],
    }
).encode()


def sign(body: bytes, algorithm: str = "sha256") -> str:
    digest = hashlib.sha256 if algorithm == "sha256" else hashlib.sha1
    return f"{algorithm}=" + hmac.new(SECRET.encode(), body, digest).hexdigest()


def test_sha256_and_older_sha1_signatures() -> None:
    assert verify_signature(BODY, {"X-Hub-Signature-256": sign(BODY)}, SECRET) == "sha256"
    assert verify_signature(BODY, {"x-hub-signature": sign(BODY, "sha1")}, SECRET) == "sha1"


@pytest.mark.parametrize(
    ("headers", "missing"),
    [
        ({}, True),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, False),
        ({"X-Hub-Signature-256": "md5=abc"}, False),
        ({"X-Hub-Signature-256": sign(BODY + b" ")}, False),
    ],
)
def test_bad_signatures(headers: dict[str, str], missing: bool) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signature(BODY, headers, SECRET)
    assert caught.value.missing is missing


def test_every_change_of_every_entry() -> None:
    changes = parse_notification(BODY)
    assert [(c.account_id, c.field) for c in changes] == [
        ("123", "with_issues_ad_objects"),
        ("123", "in_process_ad_objects"),
        ("456", "creative_fatigue"),
    ]
    assert changes[0].value == {"id": "9", "level": "AD"}
    assert changes[0].dedupe_key == parse_notification(BODY)[0].dedupe_key
    assert len({c.dedupe_key for c in changes}) == 3


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"object": "user", "entry": []}', "ad_account"),
        (b'{"object": "ad_account", "entry": {}}', "entry must be a list"),
        (b'{"object": "ad_account", "entry": [{"id": "x", "changes": []}]}', "numeric id"),
        (b'{"object": "ad_account", "entry": [{"id": "1"}]}', "list of changes"),
        (b'{"object": "ad_account", "entry": [{"id": "1", "changes": [{}]}]}', "field name"),
        (
            b'{"object": "ad_account", "entry": [{"id": "1", "time": "soon", "changes": []}]}',
            "unix time",
        ),
    ],
)
def test_malformed_payloads_name_the_problem(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_notification(body)
