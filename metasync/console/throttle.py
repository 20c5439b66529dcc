"""Login throttling in Redis, per client address and per user name, with exponential backoff.

Every login attempt is counted *before* its password is checked, against its address and its
user, in one Lua script (:meth:`LoginThrottle.reserve`): the script refuses while either one
waits, and otherwise counts the attempt for both at once. Past ``LOGIN_FREE_FAILURES`` counted
attempts, the n-th further one sets a wait of 2^n seconds (capped at
``LOGIN_MAX_WAIT_SECONDS``) in the same script, before its own check starts; during the wait
that address or user gets 429 with ``Retry-After`` and no password is checked. A failed
attempt stays counted; an attempt whose password was never checked (every check slot busy) is
released; a success clears the user's and the address's counts and waits. Counts are forgotten
after :data:`FORGET_SECONDS` without an attempt.

Bound: however many guesses arrive at once, an address, and likewise a user, costs at most
``LOGIN_FREE_FAILURES + 1`` password checks before its first wait (6 by default: the free
failures and the attempt that earns the wait), then at most 1 more after each wait ends.
Counting first is what makes this hold for concurrent guesses: checking first let every guess
of a burst past the check before the first failure was written. Assumed: one Redis serves
every copy of the web app, and no guess succeeds (a success clears the counts it touches, so
the operator's own login resets the user's count an attacker built up; their address keeps
theirs). Guesses spread over many users *and* many addresses are bounded only by
``PASSWORD_CHECKS_AT_ONCE``.

Trade-off: the per-user count lets anyone who knows a user name lock that user out, and keep
them locked out: once the user's count is past the free allowance, a single wrong guess per
``LOGIN_MAX_WAIT_SECONDS`` (15 minutes by default), from any address, re-arms a full wait for
that user, so the user cannot log in for as long as someone keeps doing so (at a cost to them
of one guess and one password check per wait). What bounds it: each wait is at most
``LOGIN_MAX_WAIT_SECONDS``, the count is forgotten :data:`FORGET_SECONDS` after the last
attempt, and deleting the user's two keys in Redis ends it at once (a correct password clears
them too, but only when it is tried between waits). This is the price of bounding guesses at
one user spread over many addresses; other users are not affected. Addresses are counted by
:func:`address_scope` (an IPv6 client by its /64), and are those ``WEB_TRUSTED_PROXIES``
report (see :mod:`metasync.console.guard`), so a proxy's own address never stands for every
client and a client's own ``X-Forwarded-For`` entries never stand for it.
"""

from __future__ import annotations

import hashlib
import ipaddress

import redis

from metasync.keys import RedisKeys

__all__ = ["FORGET_SECONDS", "LoginThrottle", "address_scope"]

FORGET_SECONDS = 86400

# KEYS: (failures, wait) per scope. ARGV: free attempts, longest wait (s), forget after (s).
# Returns the longest wait left in ms (nothing counted), or 0 once the attempt is counted.
RESERVE = """
local longest = 0
for i = 1, #KEYS, 2 do
  longest = math.max(longest, redis.call('PTTL', KEYS[i + 1]))
end
if longest > 0 then return longest end
local free, max_wait, forget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, #KEYS, 2 do
  local over = redis.call('INCR', KEYS[i]) - free
  redis.call('EXPIRE', KEYS[i], forget)
  if over > 0 then
    local wait = math.min(max_wait, 2 ^ math.min(over, 30))
    redis.call('SET', KEYS[i + 1], '1', 'EX', string.format('%d', wait))
  end
end
return 0
"""

# KEYS: failures per scope. Takes back one counted attempt, never below 0 nor into a count
# that a success deleted meanwhile.
RELEASE = """
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
"""


def address_scope(address: str) -> str:
    """What an address is counted as: an IPv4-mapped IPv6 address (``::ffff:10.0.0.2``, a peer
    of a server listening on ``::``) as its IPv4 address, any other IPv6 address as its /64
    (one client is usually given a whole /64 and can cycle through it), an IPv4 address as
    itself. Anything else (a Unix socket's name, a test client's) is counted as written.
    Trade-off: clients sharing a /64 (one household, one office network) share a count."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _scopes(address: str, user: str) -> list[tuple[str, str]]:
    return [
        ("address", hashlib.sha256(address_scope(address).encode()).hexdigest()[:32]),
        ("user", hashlib.sha256(user.encode()).hexdigest()[:32]),
    ]


class LoginThrottle:
    """Login attempts counted before their password check, and the waits they earn."""

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, free_failures: int, max_wait_seconds: int
    ) -> None:
        self.client, self.keys = client, keys
        self.free, self.max_wait = free_failures, max_wait_seconds
        self._reserve = client.register_script(RESERVE)
        self._release = client.register_script(RELEASE)

    def reserve(self, address: str, user: str) -> int:
        """Count an attempt before its password check: 0 when it may go ahead (counted as a
        failure until :meth:`succeeded` or :meth:`release`), else the seconds this address or
        user must still wait (whole seconds, rounded up; nothing counted). One round trip."""
        names: list[str] = []
        for scope, digest in _scopes(address, user):
            names += [self.keys.login_failures(scope, digest), self.keys.login_wait(scope, digest)]
        left_ms = int(self._reserve(keys=names, args=[self.free, self.max_wait, FORGET_SECONDS]))
        return -(-left_ms // 1000)

    def release(self, address: str, user: str) -> None:
        """Take back an attempt whose password was never checked. A wait it set stays: it
        ends on its own, and the next attempt earns the same wait again, not a longer one."""
        self._release(keys=[self.keys.login_failures(s, d) for s, d in _scopes(address, user)])

    def succeeded(self, address: str, user: str) -> None:
        """Clear the address's and the user's counts and waits."""
        names = [self.keys.login_failures(s, d) for s, d in _scopes(address, user)]
        names += [self.keys.login_wait(s, d) for s, d in _scopes(address, user)]
        self.client.delete(*names)
