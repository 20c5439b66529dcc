"""What a command prints when it fails: one line that says what failed and what to do.

A traceback helps a developer, not an operator at a terminal or a cron job: ``metasync`` prints
one line and exits 1 for the failures an operator meets (Meta refusing or throttling, MongoDB
or Redis unreachable, a token that cannot be decrypted); ``--debug`` (anywhere on the command
line) shows the traceback instead. Nothing here prints a URI with its password or a token.
"""

from __future__ import annotations

import redis
from kombu.exceptions import OperationalError as BrokerUnavailable
from pymongo.errors import ConnectionFailure, PyMongoError

from metasync.crypto import CryptoError
from metasync.graph import MetaAPIError, RateGovernorUnavailable, RateLimitError, TokenError

__all__ = ["OPERATOR_ERRORS", "one_line"]

OPERATOR_ERRORS = (
    MetaAPIError,
    PyMongoError,
    redis.RedisError,
    BrokerUnavailable,
    CryptoError,
    RateGovernorUnavailable,
)


def one_line(error: BaseException) -> str:
    """The message for ``error``: what failed, and what to do next."""
    if isinstance(error, RateLimitError):
        return (
            f"error: Meta throttles this connection ({error.scope}): try again in "
            f"{error.retry_after:.0f} s, or let the workers run it (they wait without blocking)"
        )
    if isinstance(error, TokenError):
        return f"error: Meta refused the token: {error.message}; add a new one (connections add)"
    if isinstance(error, MetaAPIError):
        return f"error: Meta answered: {error.message}"
    if isinstance(error, RateGovernorUnavailable):
        return f"error: {error}; is Redis (REDIS_URL) running?"
    if isinstance(error, ConnectionFailure):
        return (
            f"error: MongoDB does not answer ({type(error).__name__}); is the server in "
            "MONGODB_URI running and reachable?"
        )
    if isinstance(error, PyMongoError):
        return f"error: MongoDB refused the operation: {type(error).__name__}: {str(error)[:200]}"
    if isinstance(error, BrokerUnavailable):
        return (
            "error: the broker (Redis) does not take the task: is REDIS_URL right and its "
            "server running? (metasync --env-file FILE takes a running metasync's settings)"
        )
    if isinstance(error, redis.RedisError):
        return f"error: Redis does not answer ({type(error).__name__}); is REDIS_URL right?"
    if isinstance(error, CryptoError):
        return f"error: {error} (check ENCRYPTION_KEY and ENCRYPTION_OLD_KEYS)"
    return f"error: {type(error).__name__}: {error}"
