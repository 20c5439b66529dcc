"""Token encryption: AES-256-GCM envelopes, rotation, and typed errors that leak nothing."""

from __future__ import annotations

import base64
import secrets

import pytest

from metasync.crypto import (
    NONCE_BYTES,
    CryptoError,
    TokenCipher,
    TokenDecryptionError,
    UnknownKeyError,
    key_id_for,
)

TOKEN = "sandbox-user-token-0123456789"
RECORD = "6650f0c2a1b2c3d4e5f60718"


def test_round_trip() -> None:
    cipher = TokenCipher(secrets.token_hex(32))
    envelope = cipher.encrypt(TOKEN, RECORD)
    assert cipher.decrypt(envelope, RECORD) == TOKEN
    assert TOKEN not in envelope


def test_envelope_is_versioned_with_key_id_and_fresh_nonce() -> None:
    key = secrets.token_hex(32)
    cipher = TokenCipher(key)
    first, second = cipher.encrypt(TOKEN, RECORD), cipher.encrypt(TOKEN, RECORD)
    assert first != second
    version, key_id, nonce, _ = first.split(".")
    assert version == "v1"
    assert key_id == key_id_for(bytes.fromhex(key)) == cipher.current_key_id
    assert len(base64.urlsafe_b64decode(nonce + "==")) == NONCE_BYTES
    assert first.split(".")[2] != second.split(".")[2]


def test_rotation_old_data_still_decrypts_and_new_data_uses_current_key() -> None:
    old_key, new_key = secrets.token_hex(32), secrets.token_hex(32)
    old_envelope = TokenCipher(old_key).encrypt(TOKEN, RECORD)
    rotated = TokenCipher(new_key, [old_key])
    assert rotated.decrypt(old_envelope, RECORD) == TOKEN
    assert rotated.needs_rotation(old_envelope)
    fresh = rotated.reencrypt(old_envelope, RECORD)
    assert not rotated.needs_rotation(fresh)
    assert TokenCipher(new_key).decrypt(fresh, RECORD) == TOKEN


def test_key_that_is_not_configured_raises_unknown_key() -> None:
    envelope = TokenCipher(secrets.token_hex(32)).encrypt(TOKEN, RECORD)
    with pytest.raises(UnknownKeyError, match="ENCRYPTION_OLD_KEYS"):
        TokenCipher(secrets.token_hex(32)).decrypt(envelope, RECORD)


def test_wrong_key_under_the_same_key_id_fails_authentication() -> None:
    right, wrong = TokenCipher(secrets.token_hex(32)), TokenCipher(secrets.token_hex(32))
    envelope = right.encrypt(TOKEN, RECORD)
    forged = envelope.replace(right.current_key_id, wrong.current_key_id, 1)
    with pytest.raises(TokenDecryptionError, match="failed authentication"):
        wrong.decrypt(forged, RECORD)


def _flip(text: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("part", [2, 3])
def test_tampered_envelope_is_rejected(part: int) -> None:
    cipher = TokenCipher(secrets.token_hex(32))
    pieces = cipher.encrypt(TOKEN, RECORD).split(".")
    pieces[part] = _flip(pieces[part], 0)
    with pytest.raises(TokenDecryptionError):
        cipher.decrypt(".".join(pieces), RECORD)


def test_envelope_bound_to_another_record_is_rejected() -> None:
    cipher = TokenCipher(secrets.token_hex(32))
    envelope = cipher.encrypt(TOKEN, RECORD)
    with pytest.raises(TokenDecryptionError, match="belongs to another record"):
        cipher.decrypt(envelope, "000000000000000000000000")


@pytest.mark.parametrize(
    "envelope", ["", "plaintext-token", "v2.abc.def.ghi", "v1.abcd1234.!!!.???", "v1.a.b"]
)
def test_malformed_envelopes_raise_typed_errors(envelope: str) -> None:
    cipher = TokenCipher(secrets.token_hex(32))
    bad = envelope.replace("abcd1234", cipher.current_key_id)
    with pytest.raises(CryptoError):
        cipher.decrypt(bad, RECORD)


def test_errors_contain_neither_key_nor_token() -> None:
    key, other = secrets.token_hex(32), secrets.token_hex(32)
    cipher = TokenCipher(key)
    envelope = cipher.encrypt(TOKEN, RECORD)
    messages = []
    for attempt in (
        lambda: TokenCipher(other).decrypt(envelope, RECORD),
        lambda: cipher.decrypt(envelope, "ffffffffffffffffffffffff"),
        lambda: cipher.decrypt(envelope[:-4] + "AAAA", RECORD),
    ):
        with pytest.raises(CryptoError) as caught:
            attempt()
        messages.append(str(caught.value) + repr(caught.value))
    for message in messages:
        assert TOKEN not in message
        assert key not in message and other not in message


@pytest.mark.parametrize("key", ["ab" * 16, b"\x00" * 31])
def test_keys_must_be_32_bytes(key: str | bytes) -> None:
    with pytest.raises(CryptoError, match="32 bytes"):
        TokenCipher(key)
