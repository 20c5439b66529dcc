"""Following runs that workers carry out: a command that waits for workers says so, in one line
and a non-zero exit, when none takes its work, instead of waiting out its timeout.

A sync is queued with a request id; the worker that takes it opens a run carrying that id
(:func:`metasync.sync.start.start_sync`). No run within ``start_timeout`` seconds means no
worker took the message (none running, or running with another ``REDIS_URL`` or
``REDIS_KEY_PREFIX``: the broker's keys carry the prefix, so such workers never see it), or a
worker took it and opened no run (another run holds the connection's lock). A ping of the
workers (over the same broker and prefix, one second) tells the two apart.
"""

from __future__ import annotations

import typer

__all__ = ["END_TIMEOUT_LINE", "fail_unstarted", "workers_answering"]

END_TIMEOUT_LINE = (
    "error: {count} run(s) had not ended after {timeout:.0f} s (they go on in the workers): "
    "metasync runs shows them; follow longer with --timeout"
)


def workers_answering(timeout: float = 1.0) -> int:
    """How many workers answer a ping on this broker and key prefix within ``timeout`` s."""
    from kombu.exceptions import OperationalError

    from workers.app import app

    try:
        return len(app.control.ping(timeout=timeout) or [])
    except (OperationalError, OSError):
        return 0


def fail_unstarted(missing: int, waited: float) -> None:
    """End the command (exit 1) with one line saying why ``missing`` queued syncs opened no run
    within ``waited`` seconds, and what to do."""
    from metasync.config import get_settings

    prefix = get_settings().REDIS_KEY_PREFIX
    answering = workers_answering()
    if answering:
        line = (
            f"error: {answering} worker(s) answer but {missing} queued sync(s) opened no run "
            f"within {waited:.0f} s: the workers are busy, or another run holds the "
            "connection's lock (metasync runs); wait longer with --start-timeout"
        )
    else:
        line = (
            f"error: no worker took the {missing} queued sync(s) within {waited:.0f} s, and "
            f"none answers on this REDIS_URL with REDIS_KEY_PREFIX={prefix!r}: start workers "
            "(celery -A workers.app worker) with the same REDIS_URL and REDIS_KEY_PREFIX "
            "(metasync --env-file FILE takes a running metasync's), or run with --inline"
        )
    typer.echo(line, err=True)
    raise typer.Exit(1)
