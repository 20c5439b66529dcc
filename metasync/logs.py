"""Logging for every metasync process: the level from ``LOG_LEVEL``, no secret in any record.

Secrets reach log records from places metasync does not write: at ``DEBUG`` urllib3 logs every
request line, query string included (``input_token=``, ``client_secret=``,
``fb_exchange_token=`` on token calls, ``access_token=`` in a ``paging.next``). A log record
factory (process-wide, inherited by forked workers) redacts every record's formatted message
before any handler sees it, whichever library logged it: secret query parameters, bearer
headers and strings shaped like Meta access tokens, and every value registered with
:func:`hide_in_logs` (the parts of configured URLs that are secret: a Slack webhook's path, an
SMTP password), which have no recognisable shape. Records that mention none cost two regular
expression searches. Registered values shorter than :data:`SHORTEST_HIDDEN` characters are not
matched (they would blank common words in every record); such a secret is weak anyway.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from metasync.graph.redact import MASK, redact

__all__ = ["SHORTEST_HIDDEN", "configure_logging", "hide_in_logs", "install_redaction"]

SHORTEST_HIDDEN = 6

_SUSPECT = re.compile(r"(?i)token|secret|bearer|oauth|code=|EAA[A-Za-z0-9]{20}")
_META_TOKEN = re.compile(r"EAA[A-Za-z0-9]{20,}")
_installed = False
_hidden: set[str] = set()
_HIDDEN: re.Pattern[str] | None = None


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return record  # a malformed record is logging's own problem to report
    hidden = _HIDDEN
    if _SUSPECT.search(message):
        message = _META_TOKEN.sub(MASK, redact(message))
    elif hidden is None or not hidden.search(message):
        return record
    record.msg = hidden.sub(MASK, message) if hidden is not None else message
    record.args = None
    return record


def hide_in_logs(secrets: Iterable[str]) -> None:
    """Redact each of ``secrets`` (exact text) from every later log record of this process, and
    install the redaction if it is not yet. For configured secrets that have no shape a pattern
    could know; call it before the first use of the secret."""
    global _HIDDEN
    new = {s for s in secrets if len(s) >= SHORTEST_HIDDEN} - _hidden
    install_redaction()
    if new:
        _hidden.update(new)
        ordered = sorted(_hidden, key=len, reverse=True)  # the longest match first
        _HIDDEN = re.compile("|".join(re.escape(s) for s in ordered))


def install_redaction() -> None:
    """Redact every log record of this process (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redacted(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True


def configure_logging(level: str) -> None:
    """Apply ``LOG_LEVEL`` to metasync's loggers and the root logger (a stderr handler is added
    only when the process has none, e.g. a CLI command), with redaction installed."""
    install_redaction()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("metasync").setLevel(level)
