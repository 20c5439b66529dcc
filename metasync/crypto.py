"""Token encryption at rest: AES-256-GCM in a versioned envelope, with key rotation.

Envelope (ASCII, safe to store as a string)::

    v1.<key id>.<nonce, base64url>.<ciphertext and 16-byte tag, base64url>

- A fresh 12-byte random nonce per encryption (GCM's standard nonce size; with random nonces one
  key stays safe for about 2**32 encryptions, far beyond the number of tokens we store).
- The key id is the first 8 hex characters of SHA-256 over a label and the key: it names the key
  without revealing it, so several keys can be configured and old envelopes still find theirs.
- The owning record's id is the associated data: an envelope copied onto another record does not
  decrypt.

Errors (:class:`TokenDecryptionError` and :class:`UnknownKeyError`, both :class:`CryptoError`)
name the key id and the record id, never a key or a token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "CryptoError",
    "TokenCipher",
    "TokenDecryptionError",
    "UnknownKeyError",
    "key_id_for",
]

ENVELOPE_VERSION = "v1"
NONCE_BYTES = 12


class CryptoError(Exception):
    """Base of the errors raised while encrypting or decrypting a token."""


class UnknownKeyError(CryptoError):
    """The envelope names a key id that no configured key has."""


class TokenDecryptionError(CryptoError):
    """The envelope is malformed, tampered with, or belongs to another record."""


def key_id_for(key: bytes) -> str:
    """A short, non-secret name for ``key`` (8 hex characters)."""
    return hashlib.sha256(b"metasync-key-id:" + key).hexdigest()[:8]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class _Key:
    key_id: str
    aead: AESGCM
    hash_key: bytes  # for keyed hashes (fingerprints), derived: never the AES key itself


class TokenCipher:
    """Encrypts with the current key; decrypts with any configured key.

    ``current`` and ``retired`` are 32-byte keys (hex strings are accepted, as they come from
    settings). Construct one per process: it holds no connection and is cheap.
    """

    def __init__(self, current: bytes | str, retired: Iterable[bytes | str] = ()) -> None:
        self._current = self._load(current)
        self._keys = {self._current.key_id: self._current}
        for key in retired:
            loaded = self._load(key)
            self._keys.setdefault(loaded.key_id, loaded)

    @staticmethod
    def _load(key: bytes | str) -> _Key:
        raw = bytes.fromhex(key) if isinstance(key, str) else key
        if len(raw) != 32:
            raise CryptoError("an encryption key must be 32 bytes (64 hex characters)")
        hash_key = hashlib.sha256(b"metasync-fingerprint:" + raw).digest()
        return _Key(key_id_for(raw), AESGCM(raw), hash_key)

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    def encrypt(self, plaintext: str, record_id: str) -> str:
        """Encrypt ``plaintext`` for the record ``record_id`` with the current key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.aead.encrypt(nonce, plaintext.encode("utf-8"), record_id.encode())
        return ".".join(
            (ENVELOPE_VERSION, self._current.key_id, _b64encode(nonce), _b64encode(sealed))
        )

    @staticmethod
    def key_id_of(envelope: str) -> str:
        """The key id an envelope was sealed with (raises on a malformed envelope)."""
        return _split(envelope)[1]

    def decrypt(self, envelope: str, record_id: str) -> str:
        """Open ``envelope`` written for ``record_id``; typed errors on any mismatch."""
        _, key_id, nonce_text, sealed_text = _split(envelope)
        key = self._keys.get(key_id)
        if key is None:
            raise UnknownKeyError(
                f"token of record {record_id} was encrypted with key id {key_id}, which is not "
                "configured: add that key to ENCRYPTION_OLD_KEYS"
            )
        try:
            nonce, sealed = _b64decode(nonce_text), _b64decode(sealed_text)
        except (binascii.Error, ValueError):
            raise TokenDecryptionError(
                f"token envelope of record {record_id} is not valid base64"
            ) from None
        if len(nonce) != NONCE_BYTES:
            raise TokenDecryptionError(f"token envelope of record {record_id} has a bad nonce")
        try:
            plaintext = key.aead.decrypt(nonce, sealed, record_id.encode())
        except InvalidTag:
            raise TokenDecryptionError(
                f"token of record {record_id} failed authentication with key id {key_id}: "
                "the envelope was altered or belongs to another record"
            ) from None
        return plaintext.decode("utf-8")

    def fingerprint(self, text: str) -> str:
        """A keyed, non-reversible hash of ``text`` (HMAC-SHA-256 under a key derived from the
        current key; 64 hex characters): equal texts match, and without the key it reveals
        nothing, not even to a dictionary of e-mail addresses."""
        return _fingerprint(self._current.hash_key, text)

    def fingerprints(self, text: str) -> list[str]:
        """:meth:`fingerprint` under every configured key (current first), to find records
        hashed before a key rotation."""
        keys = [self._current, *(k for k in self._keys.values() if k is not self._current)]
        return [_fingerprint(key.hash_key, text) for key in keys]

    def needs_rotation(self, envelope: str) -> bool:
        """True when ``envelope`` was not sealed with the current key."""
        return self.key_id_of(envelope) != self._current.key_id

    def reencrypt(self, envelope: str, record_id: str) -> str:
        """Decrypt with whichever key sealed it and seal again with the current key."""
        return self.encrypt(self.decrypt(envelope, record_id), record_id)


def _fingerprint(hash_key: bytes, text: str) -> str:
    return hmac.new(hash_key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _split(envelope: str) -> tuple[str, str, str, str]:
    parts = envelope.split(".") if isinstance(envelope, str) else []
    if len(parts) != 4 or parts[0] != ENVELOPE_VERSION:
        raise TokenDecryptionError(
            f"token envelope is malformed: expected {ENVELOPE_VERSION}.<key id>.<nonce>.<data>"
        )
    return parts[0], parts[1], parts[2], parts[3]
