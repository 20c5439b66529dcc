"""Logging for every metasync process: the level from ``LOG_LEVEL``, no secret in any record.

Secrets reach log records from places metasync does not write: at ``DEBUG`` urllib3 logs every
request line, query string included (``input_token=``, ``client_secret=``,
``fb_exchange_token=`` on token calls, ``access_token=`` in a ``paging.next``). A log record
factory (process-wide, inherited by forked workers) redacts every record's formatted message
before any handler sees it, whichever library logged it: secret query parameters, bearer
headers and strings shaped like Meta access tokens. Records that mention none cost one regular
expression search.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from metasync.graph.redact import MASK, redact

__all__ = ["configure_logging", "install_redaction"]

_SUSPECT = re.compile(r"(?i)token|secret|bearer|oauth|code=|EAA[A-Za-z0-9]{20}")
_META_TOKEN = re.compile(r"EAA[A-Za-z0-9]{20,}")
_installed = False


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return record  # a malformed record is logging's own problem to report
    if _SUSPECT.search(message):
        record.msg = _META_TOKEN.sub(MASK, redact(message))
        record.args = None
    return record


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
