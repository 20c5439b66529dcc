"""How a subtask's error ends its attempt: a throttled subtask asks for a retry after a
countdown (or fails once its retries are spent), a transient error goes back to the task's
retry (or fails on the final attempt), our own stores briefly away always go back to the
task, and anything else is recorded as the subtask's failure on its run (a token error also
marks the connection, an undecryptable token stops it)."""

from __future__ import annotations

import logging

import redis
from pymongo.errors import ConnectionFailure

from metasync.crypto import CryptoError
from metasync.graph import (
    MetaAPIError,
    PermissionDeniedError,
    RateGovernorUnavailable,
    RateLimitError,
    TokenError,
    TransientError,
)
from metasync.models import ConnectionStatus, MetaConnection
from metasync.sync.account.ledger import Ledger
from metasync.sync.connections import mark_token_error
from metasync.sync.subtasks import (
    MAX_COUNTDOWN_SECONDS,
    IncompleteListing,
    Outcome,
    error_record,
)

__all__ = ["settle_failure"]

log = logging.getLogger(__name__)


def settle_failure(
    ledger: Ledger, exc: Exception, *, final_attempt: bool, may_wait: bool
) -> Outcome:
    """The outcome of ``exc`` raised by the attempt ``ledger`` keeps; raises ``exc`` again
    (its cost added) when the task's own retry takes it."""
    sub = ledger.sub
    if isinstance(exc, RateLimitError):
        if ledger.client is not None and exc.scope != "governor":
            ledger.client.stats.throttled_seconds += exc.retry_after
        if may_wait:
            countdown = min(exc.retry_after, MAX_COUNTDOWN_SECONDS)
            outcome = ledger.wait(Outcome("retry", countdown=countdown))
            ledger.charge()
            return outcome
    elif isinstance(exc, TokenError):
        mark_token_error(sub.connection_id, exc)
    elif isinstance(exc, TransientError | RateGovernorUnavailable):
        if not final_attempt:
            ledger.charge()
            raise exc
    elif isinstance(exc, CryptoError):
        MetaConnection.objects(pk=sub.connection_id).update(
            set__status=ConnectionStatus.ERROR, set__status_reason=str(exc)
        )
    elif isinstance(exc, PermissionDeniedError):
        log.warning(
            "permission denied on %s of account %s: %s",
            sub.edge,
            sub.account_id,
            exc.message,
            extra={"run_id": sub.run_id},
        )
    elif isinstance(exc, MetaAPIError):
        pass
    elif isinstance(exc, IncompleteListing):
        log.warning(
            "subtask %s of run %s: %s", sub.key, sub.run_id, exc, extra={"run_id": sub.run_id}
        )
    elif isinstance(
        exc, ConnectionFailure | redis.exceptions.ConnectionError | redis.exceptions.TimeoutError
    ):
        ledger.charge()
        raise exc  # our own stores briefly away: the task retries
    else:
        log.exception(
            "subtask %s of run %s failed unexpectedly",
            sub.key,
            sub.run_id,
            extra={"run_id": sub.run_id},
            exc_info=exc,
        )
    return ledger.finish("failed", error_record(sub, exc))
