"""What one API key may ask for: a token bucket per key, and one pending sync per connection.

- **Rate**: each key has a bucket of ``API_BURST`` tokens refilled at ``API_REQUESTS_PER_MINUTE``
  per minute; a request takes one. An empty bucket answers 429 with ``Retry-After`` (whole
  seconds until a token is back). The bucket lives in Redis (one Lua call per request), so it
  holds across every copy of the web app.
- **One pending sync per connection**: a sync request records its request id under the
  connection until the run it asked for finishes (or :data:`PENDING_SECONDS` pass, so a request
  lost with its broker does not block the connection for ever). A second request meanwhile
  answers 409 naming the pending one: 300 requests in a second are one sync, not 300 tasks on
  the shared queue.
"""

from __future__ import annotations

import time

import redis

from metasync.keys import RedisKeys
from metasync.models import SyncRun

__all__ = ["PENDING_SECONDS", "PendingSyncs", "RateLimiter"]

PENDING_SECONDS = 6 * 3600  # a sync whose run is open blocks at most this long
UNSTARTED_SECONDS = 1800  # a request no worker opened a run for is taken as lost after this

# KEYS[1] bucket; ARGV: capacity, refill per ms, now (ms). Returns ms to wait (0: taken).
TAKE = """
local capacity, rate, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or capacity, tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return wait
"""


class RateLimiter:
    """A token bucket per API key."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, per_minute: int, burst: int) -> None:
        self.client, self.keys = client, keys
        self.capacity, self.per_ms = burst, per_minute / 60_000
        self.take = client.register_script(TAKE)

    def wait_seconds(self, key_id: str) -> int:
        """0 when the request may go ahead (a token taken), else the seconds to wait."""
        now = int(time.time() * 1000)
        waited = int(self.take(keys=[self.keys.api_bucket(key_id)],
                               args=[self.capacity, self.per_ms, now]))  # fmt: skip
        return 0 if waited <= 0 else -(-waited // 1000)


class PendingSyncs:
    """The sync request each connection has pending."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self.client, self.keys = client, keys

    def pending(self, connection_id: str) -> str | None:
        """The request id still pending for the connection, or None. A request is over once
        its run finished, or when no worker opened a run for it in :data:`UNSTARTED_SECONDS`
        (a worker skips a request for a paused or busy connection without opening one)."""
        key = self.keys.pending_sync(connection_id)
        found: bytes | None = self.client.get(key)  # type: ignore[assignment]
        if found is None:
            return None
        asked_at, _, request_id = found.decode().partition(" ")
        run = SyncRun.objects(request_id=request_id).only("finished_at").first()
        asked_ago = time.time() - float(asked_at)
        if (run is not None and run.finished_at is not None) or (
            run is None and asked_ago > UNSTARTED_SECONDS
        ):
            self.client.delete(key)  # over: a new request may go ahead
            return None
        return request_id

    def claim(self, connection_id: str) -> bool:
        """Record a request being queued for the connection, unless one is pending (the claim
        expires after :data:`PENDING_SECONDS` whatever becomes of it)."""
        value = f"{time.time()} (being queued)"
        key = self.keys.pending_sync(connection_id)
        return bool(self.client.set(key, value, nx=True, ex=PENDING_SECONDS))

    def queued(self, connection_id: str, request_id: str) -> None:
        """The claimed request got its id from the broker (the claim keeps its expiry)."""
        key = self.keys.pending_sync(connection_id)
        self.client.set(key, f"{time.time()} {request_id}", xx=True, keepttl=True)

    def release(self, connection_id: str) -> None:
        """The claimed request could not be queued."""
        self.client.delete(self.keys.pending_sync(connection_id))
