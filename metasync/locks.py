"""Named Redis locks that can be released by another process.

A connection's sync is one lock held from ``sync_connection`` until its last subtask ends, in
whichever worker process that is. So the lock's token is the run id (stored on the ``SyncRun``),
not a random per-thread token: any process that knows the run can extend or release it.
redis-py's :class:`redis.lock.Lock` does the atomic work (SET NX PX, compare-and-delete,
compare-and-extend); this class only names keys and passes the token.

TTL: long enough for the work between two extensions (each subtask extends it when it starts),
short enough that a run whose workers all died frees the connection soon. Wait: short (the
caller skips or retries rather than queueing behind a running sync).
"""

from __future__ import annotations

import redis
from redis.exceptions import LockError

from metasync.keys import RedisKeys

__all__ = ["NamedLock"]


class NamedLock:
    """``NamedLock(client, keys, "sync:<connection id>", ttl_seconds=900)``."""

    def __init__(
        self,
        client: redis.Redis,
        keys: RedisKeys,
        name: str,
        *,
        ttl_seconds: float,
        wait_seconds: float = 1.0,
    ) -> None:
        self.name = name
        self.ttl_seconds = ttl_seconds
        self._lock = client.lock(
            keys.lock(name),
            timeout=ttl_seconds,
            blocking_timeout=wait_seconds,
            thread_local=False,
        )

    def acquire(self, token: str) -> bool:
        """Take the lock for ``token``; False when someone else holds it past the short wait."""
        return bool(self._lock.acquire(token=token))

    def _use(self, token: str) -> None:
        self._lock.local.token = token.encode()

    def extend(self, token: str) -> bool:
        """Reset the TTL if ``token`` still holds the lock; False when it does not."""
        self._use(token)
        try:
            return bool(self._lock.reacquire())
        except LockError:
            return False

    def release(self, token: str) -> bool:
        """Release if ``token`` holds the lock; False when it had expired or was taken over."""
        self._use(token)
        try:
            self._lock.release()
            return True
        except LockError:
            return False

    def holder(self) -> str | None:
        """The token holding the lock now, if any."""
        value = self._lock.redis.get(self._lock.name)
        return value.decode() if isinstance(value, bytes) else value
