"""The distributed rate governor: one Graph API budget shared by every worker, kept in Redis.

Celery's ``rate_limit`` is per worker process, so it is only a local guard. This governor is the
real budget. Before each call a worker asks :meth:`RateGovernor.acquire`, which answers at once
"go" or "wait N seconds" (it never sleeps); after each answer the worker hands Meta's usage
headers to :meth:`RateGovernor.record_usage`, and a throttling error to :meth:`RateGovernor.block`.

What is kept (all keys expire on their own; see :mod:`metasync.keys`):

- **Per connection, calls per hour** (default 180 of Meta's 200): a sliding-window log in a
  sorted set. Unlike a fixed window it has no burst at the window's edge: at no instant do the
  last 3600 s hold more than the budget. It costs one set member per call (180 per connection).
  A warning is logged once per window when usage passes the warning share (default 90 %).
- **Blocked until**, per scope (``app``, ``connection``, ``account``, ``business``): set from
  ``reset_time_duration`` / ``estimated_time_to_regain_access`` or a throttling error's wait;
  a later block never shortens an earlier one.
- **Pacing**, per scope: above the slow-down threshold (default 85 %) calls are spaced by an
  interval growing linearly to :data:`MAX_PACE_SECONDS` at 100 %; a header below the threshold
  ends the pacing at once (it follows the latest usage, not the worst one).

Every check and the recording of the call happen in one Lua script, so concurrent workers cannot
both take the last slot. Times come from Redis's clock (``TIME``), so worker clocks do not matter.

When Redis cannot be reached, :class:`~metasync.graph.errors.RateGovernorUnavailable` is raised:
the governor fails closed (no call without a budget). Redis is also the Celery broker, so while it
is down no task is delivered anyway; the task retries once it is back.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass

import redis

from metasync.graph.errors import RateGovernorUnavailable, RateLimitError
from metasync.graph.usage import UsageReport
from metasync.keys import RedisKeys

__all__ = ["Decision", "RateGovernor"]

log = logging.getLogger(__name__)

WINDOW_SECONDS = 3600.0
MAX_PACE_SECONDS = 30.0
PACE_TTL_SECONDS = 300.0  # pacing decays when no fresh usage header renews it
DEFAULT_BLOCK_SECONDS = 300.0  # usage at 100 % without a reset time
MAX_BLOCK_SECONDS = 6 * 3600.0  # guards against a nonsense header blocking a scope for days

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local warn_at = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local member = ARGV[5]
local wait, reason = 0, ''
for i = 3, #KEYS, 2 do
  local until_ms = tonumber(redis.call('GET', KEYS[i]) or '0')
  if until_ms - now > wait then wait = until_ms - now; reason = KEYS[i] end
  local next_ms = tonumber(redis.call('HGET', KEYS[i + 1], 'next') or '0')
  if next_ms - now > wait then wait = next_ms - now; reason = KEYS[i + 1] end
end
if wait > 0 then return {0, wait, reason, 0, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if cost > budget then return {0, window, 'cost exceeds the whole budget', 0, used} end
if used + cost > budget then
  local index = used + cost - budget - 1
  local oldest = redis.call('ZRANGE', KEYS[1], index, index, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) + window - now), KEYS[1], 0, used}
end
for j = 1, cost do redis.call('ZADD', KEYS[1], now, member .. ':' .. j) end
redis.call('PEXPIRE', KEYS[1], window)
for i = 3, #KEYS, 2 do
  local interval = tonumber(redis.call('HGET', KEYS[i + 1], 'interval') or '0')
  if interval > 0 then redis.call('HSET', KEYS[i + 1], 'next', now + interval) end
end
local warn = 0
if used + cost >= warn_at and redis.call('SET', KEYS[2], '1', 'NX', 'PX', window) then
  warn = 1
end
return {1, 0, '', warn, used + cost}
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]))
  return until_ms - now
end
return current - now
"""

_PACE = """
local interval = tonumber(ARGV[1])
if interval <= 0 then redis.call('DEL', KEYS[1]) return 0 end
redis.call('HSET', KEYS[1], 'interval', interval)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return interval
"""


@dataclass(frozen=True)
class Decision:
    """The governor's answer. ``wait_seconds`` is 0 when ``allowed``."""

    allowed: bool
    wait_seconds: float
    reason: str = ""
    used: int = 0  # calls in the connection's window, this one included, when allowed


class RateGovernor:
    """One shared budget for all workers; construct one per process around a Redis client.

    ``calls_per_hour`` is per connection; ``warn_ratio`` the share at which a warning is logged
    once per window; ``slowdown_pct`` the usage-header percentage above which calls are paced.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        keys: RedisKeys | None = None,
        calls_per_hour: int = 180,
        warn_ratio: float = 0.9,
        slowdown_pct: float = 85.0,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        self._redis = client
        self.keys = keys or RedisKeys()
        self.calls_per_hour = calls_per_hour
        self.warn_at = max(1, math.ceil(calls_per_hour * warn_ratio))
        self.slowdown_pct = slowdown_pct
        self.window_ms = int(window_seconds * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        self._block = client.register_script(_BLOCK)
        self._pace = client.register_script(_PACE)

    def _scopes(
        self, connection_id: str, account_id: str | None, business_id: str | None
    ) -> list[tuple[str, str]]:
        scopes = [("app", "all"), ("connection", connection_id)]
        if account_id:
            scopes += [("account", account_id), ("business", account_id)]
        if business_id:
            scopes.append(("business", business_id))
        return scopes

    def acquire(
        self,
        connection_id: str,
        *,
        account_id: str | None = None,
        business_id: str | None = None,
        cost: int = 1,
    ) -> Decision:
        """Ask to make ``cost`` calls now. Records them when allowed; never sleeps."""
        keys = [self.keys.calls(connection_id), self.keys.budget_warned(connection_id)]
        for scope, scope_id in self._scopes(connection_id, account_id, business_id):
            keys += [self.keys.blocked(scope, scope_id), self.keys.pace(scope, scope_id)]
        args: list[int | str] = [
            self.window_ms,
            self.calls_per_hour,
            self.warn_at,
            cost,
            uuid.uuid4().hex,
        ]
        try:
            allowed, wait_ms, reason, warn, used = self._acquire(keys=keys, args=args)
        except redis.RedisError as exc:
            raise RateGovernorUnavailable(
                f"rate governor cannot reach Redis ({type(exc).__name__}); retry later"
            ) from None
        if warn:
            log.warning(
                "connection %s used %d of its %d calls this hour",
                connection_id,
                used,
                self.calls_per_hour,
                extra={"connection_id": connection_id},
            )
        reason_text = reason.decode() if isinstance(reason, bytes) else str(reason)
        return Decision(
            bool(allowed),
            int(wait_ms) / 1000.0,
            reason_text.removeprefix(self.keys.prefix),
            int(used),
        )

    def block(self, scope: str, scope_id: str, seconds: float) -> float:
        """Block ``scope``/``scope_id`` for ``seconds`` (never shortening a longer block).

        Returns the seconds the scope is now blocked for.
        """
        ms = int(min(max(seconds, 0.001), MAX_BLOCK_SECONDS) * 1000)
        try:
            left = self._block(keys=[self.keys.blocked(scope, scope_id)], args=[ms])
        except redis.RedisError as exc:
            raise RateGovernorUnavailable(
                f"rate governor cannot reach Redis ({type(exc).__name__}); retry later"
            ) from None
        return int(left) / 1000.0

    def block_for_error(
        self, error: RateLimitError, *, connection_id: str, account_id: str | None
    ) -> None:
        """Block whatever scope a throttling error names, for its ``retry_after``."""
        if error.scope in ("account",) and account_id:
            self.block("account", account_id, error.retry_after)
        elif error.scope == "business":
            self.block("business", error.scope_id or account_id or "all", error.retry_after)
        elif error.scope == "user":
            self.block("connection", connection_id, error.retry_after)
        elif error.scope != "governor":
            self.block("app", "all", error.retry_after)

    def _pace_for(self, scope: str, scope_id: str, pct: float) -> None:
        """Pace a scope by its latest usage: above the threshold the interval grows linearly;
        below it any pacing stops at once (the _PACE script deletes the key)."""
        if pct < self.slowdown_pct:
            self._pace(keys=[self.keys.pace(scope, scope_id)], args=[0, 0])
            return
        share = min(1.0, (pct - self.slowdown_pct) / max(1e-9, 100.0 - self.slowdown_pct))
        interval_ms = int(MAX_PACE_SECONDS * 1000 * share)
        self._pace(
            keys=[self.keys.pace(scope, scope_id)],
            args=[max(1, interval_ms), int(PACE_TTL_SECONDS * 1000)],
        )

    def record_usage(
        self, report: UsageReport, *, connection_id: str, account_id: str | None = None
    ) -> None:
        """Turn one answer's usage headers into blocks and pacing."""
        try:
            self._record_usage(report, account_id)
        except redis.RedisError as exc:
            raise RateGovernorUnavailable(
                f"rate governor cannot reach Redis ({type(exc).__name__}); retry later"
            ) from None

    def _record_usage(self, report: UsageReport, account_id: str | None) -> None:
        """Blocks first, then one pacing decision per scope from the highest value any header
        or entry gave it: several values for one scope (an id's entry per use case, the app's
        usage and the insights throttle) combine by their maximum, so a low one never cancels
        a high one's pacing, whatever order they came in."""
        highest: dict[tuple[str, str], float] = {}

        def note(scope: str, scope_id: str, pct: float) -> None:
            highest[(scope, scope_id)] = max(highest.get((scope, scope_id), 0.0), pct)

        if report.app is not None:
            if report.app.max_pct >= 100:
                self.block("app", "all", DEFAULT_BLOCK_SECONDS)
            note("app", "all", report.app.max_pct)
        if report.account is not None and account_id:
            pct = report.account.acc_id_util_pct
            if pct >= 100:
                self.block(
                    "account",
                    account_id,
                    report.account.reset_time_duration or DEFAULT_BLOCK_SECONDS,
                )
            note("account", account_id, pct)
        for entry in report.business:
            if entry.regain_seconds > 0:
                self.block("business", entry.business_id, entry.regain_seconds)
            elif entry.max_pct >= 100:
                self.block("business", entry.business_id, DEFAULT_BLOCK_SECONDS)
            note("business", entry.business_id, entry.max_pct)
        if report.insights is not None:
            note("app", "all", report.insights.app_id_util_pct)
            if account_id:
                note("account", account_id, report.insights.acc_id_util_pct)
        for (scope, scope_id), pct in highest.items():
            self._pace_for(scope, scope_id, pct)
