"""Login throttling in Redis, per client address and per user name, with exponential backoff.

Each failed login counts against its address and its user (counters forgotten after a day
without failures). Past ``LOGIN_FREE_FAILURES`` failures, the n-th further one earns a wait of
2^n seconds (capped at ``LOGIN_MAX_WAIT_SECONDS``) during which that address or user gets 429
with ``Retry-After`` *before* any password is checked, so guessing costs the server nothing.
A success clears the user's and the address's count.

Trade-off: the per-user count lets someone who knows a user name delay that user's logins; the
cap bounds the delay (15 minutes by default) and the user's own address is throttled the same
whoever guesses. Addresses are those ``WEB_TRUSTED_PROXIES`` report, so a proxy's own address
never stands for every client.
"""

from __future__ import annotations

import hashlib

import redis

from metasync.keys import RedisKeys

__all__ = ["FORGET_SECONDS", "LoginThrottle"]

FORGET_SECONDS = 86400


def _scopes(address: str, user: str) -> list[tuple[str, str]]:
    return [
        ("address", hashlib.sha256(address.encode()).hexdigest()[:32]),
        ("user", hashlib.sha256(user.encode()).hexdigest()[:32]),
    ]


class LoginThrottle:
    """Waits earned by failed logins."""

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, free_failures: int, max_wait_seconds: int
    ) -> None:
        self.client, self.keys = client, keys
        self.free, self.max_wait = free_failures, max_wait_seconds

    def wait_seconds(self, address: str, user: str) -> int:
        """Seconds before this address or user may try again (0: now). One round trip."""
        with self.client.pipeline(transaction=False) as pipe:
            for scope, digest in _scopes(address, user):
                pipe.pttl(self.keys.login_wait(scope, digest))
            left = pipe.execute()
        return max((-(-int(ms) // 1000) for ms in left if int(ms) > 0), default=0)

    def failed(self, address: str, user: str) -> int:
        """Count a failure; returns the wait it earned (seconds, 0 while still free)."""
        with self.client.pipeline(transaction=False) as pipe:
            for scope, digest in _scopes(address, user):
                pipe.incr(self.keys.login_failures(scope, digest))
                pipe.expire(self.keys.login_failures(scope, digest), FORGET_SECONDS)
            counts = pipe.execute()[::2]
        longest = 0
        with self.client.pipeline(transaction=False) as pipe:
            for (scope, digest), count in zip(_scopes(address, user), counts, strict=True):
                over = int(count) - self.free
                if over > 0:
                    wait = min(self.max_wait, 2 ** min(over, 30))
                    longest = max(longest, wait)
                    pipe.set(self.keys.login_wait(scope, digest), "1", ex=wait)
            pipe.execute()
        return longest

    def succeeded(self, address: str, user: str) -> None:
        names = [self.keys.login_failures(s, d) for s, d in _scopes(address, user)]
        names += [self.keys.login_wait(s, d) for s, d in _scopes(address, user)]
        self.client.delete(*names)
