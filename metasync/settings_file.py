"""A settings file: the variables of a running metasync, written where its CLI can read them.

``metasync demo`` writes the settings its processes run with (the MongoDB URI, the Redis URL,
``ENCRYPTION_KEY``, the app's id and secret, ``REDIS_KEY_PREFIX``, the scrape token...) to one
file, and ``metasync --env-file FILE`` (or ``METASYNC_ENV_FILE=FILE``) loads it before any
setting is read, so every command talks to that metasync. A deployment may write one the same way.

Decisions recorded here:

- The file holds secrets, so it is created with mode 0600 (owner only) and replaced atomically:
  no moment exists where it is readable by others or half written. Loading a file others can read
  warns about it (``chmod 600``) but goes on.
- Every value is written in single quotes, which both a shell (``set -a; . FILE``) and
  python-dotenv take literally (no ``$`` expansion: ``CONSOLE_USERS`` hashes hold ``$``). A value
  holding a single quote or a line break cannot be written that way and is refused, naming the
  variable (never the value).
- The process environment wins over the file, as with docker compose and python-dotenv: a
  variable set in both keeps the environment's value, and :func:`load_into_environment` returns
  the names of those, so the CLI can say which ones it did not take from the file.

This module and :mod:`metasync.config` are the only ones that touch the process environment:
this one fills it from the file, before config reads it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

__all__ = [
    "SettingsFileError",
    "load_into_environment",
    "read_settings_file",
    "readable_by_others",
    "write_settings_file",
]

HEADER = (
    "# metasync settings (secrets: keep this file mode 0600).\n"
    "# Use: metasync --env-file THIS_FILE COMMAND, or export METASYNC_ENV_FILE=THIS_FILE\n"
)


class SettingsFileError(Exception):
    """A settings file that cannot be read or written; the message names the file and the fix."""


def write_settings_file(path: Path, values: Mapping[str, str]) -> None:
    """Write ``values`` to ``path`` (mode 0600, replaced atomically), one ``NAME='value'`` line
    each, in the order given."""
    lines = []
    for name, value in values.items():
        if "'" in value or "\n" in value or "\r" in value:
            raise SettingsFileError(
                f"{name} holds a single quote or a line break, which a settings file cannot "
                "carry: set it without one"
            )
        lines.append(f"{name}='{value}'\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:  # mkstemp creates the file 0600 already; said again in case of an unusual umask
        os.fchmod(descriptor, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(HEADER + "".join(lines))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_settings_file(path: Path) -> dict[str, str]:
    """The variables ``path`` sets (empty values left out, as :func:`load_settings` treats them)."""
    if not path.is_file():
        raise SettingsFileError(
            f"settings file {path} does not exist: start `metasync demo` (it writes one) or "
            "give the path it printed"
        )
    try:
        found = dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsFileError(f"settings file {path} cannot be read: {exc}") from None
    return {name: value for name, value in found.items() if value}


def readable_by_others(path: Path) -> bool:
    """Group or others may read ``path`` (it should be 0600)."""
    return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))


def load_into_environment(path: Path) -> list[str]:
    """Put the variables ``path`` sets into the process environment, unless already set there;
    returns the names the environment kept its own value of (sorted)."""
    kept = []
    for name, value in read_settings_file(path).items():
        current = os.environ.get(name)
        if current:
            if current != value:
                kept.append(name)
            continue
        os.environ[name] = value
    return sorted(kept)
