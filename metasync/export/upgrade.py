"""The ``export_secrets`` upgrade (:mod:`metasync.upgrades`), given what it needs from the
export: today's destination parser and the encryption keys to read each stored URL. Loaded with
:mod:`metasync.export`, so every process that exports registers it before it connects."""

from __future__ import annotations

from metasync.config import get_settings
from metasync.crypto import TokenCipher
from metasync.export.destinations import parse
from metasync.models import ExportTarget
from metasync.upgrades import export_secrets, register

__all__ = ["clean_export_secrets"]


def _cipher() -> TokenCipher:
    settings = get_settings()
    return TokenCipher(
        settings.ENCRYPTION_KEY.get_secret_value(),
        [key.get_secret_value() for key in settings.ENCRYPTION_OLD_KEYS],
    )


def clean_export_secrets() -> int:
    """:func:`metasync.upgrades.export_secrets` with the stored URLs and today's parser."""

    ciphers: list[TokenCipher] = []  # the keys are read at the first target: none, never

    def url_of(target: ExportTarget) -> str:
        if not ciphers:
            ciphers.append(_cipher())
        return target.url(ciphers[0])

    return export_secrets(url_of, parse)


register("export_secrets", clean_export_secrets)
