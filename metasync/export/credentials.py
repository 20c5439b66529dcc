"""Where a ``bigquery://`` or ``snowflake://`` destination's secret lives: a file in the
directory ``WAREHOUSE_SECRETS_DIR`` (default ``/run/secrets/metasync``), named in the URL by
``?secret=<name>``. The URL names the file, never its content, so a URL that is stored, shown
or logged carries no secret; and a name (no ``/``) keeps a URL from pointing at any other file
of the host. The file is read when the export connects, so rotating it needs no change to the
destination.
"""

from __future__ import annotations

import re
from pathlib import Path

from metasync.config import get_settings

__all__ = ["CredentialsError", "secret_file"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class CredentialsError(ValueError):
    """A destination's secret cannot be found; the message names the file, never its content."""


def secret_file(name: str) -> Path:
    """The file ``name`` in ``WAREHOUSE_SECRETS_DIR``; :class:`CredentialsError` when the name
    is not a plain file name or no such file exists."""
    if not _NAME.match(name):
        raise CredentialsError(
            f"secret={name!r} is not a file name (letters, digits, '.', '_', '-'): it names a "
            "file in WAREHOUSE_SECRETS_DIR"
        )
    path = Path(get_settings().WAREHOUSE_SECRETS_DIR) / name
    if not path.is_file():
        raise CredentialsError(f"secret={name!r}: no file {path} (set WAREHOUSE_SECRETS_DIR)")
    return path
