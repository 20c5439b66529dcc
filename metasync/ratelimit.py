"""The distributed rate governor: Meta's budgets shared by every worker, kept in Redis.

Celery's ``rate_limit`` is per worker process, so it is only a local guard. This governor is the
real budget. Before each call a worker asks :meth:`RateGovernor.acquire`, which answers at once
"go" or "wait N seconds" (it never sleeps); after each answer the worker hands Meta's usage
headers to :meth:`RateGovernor.record_usage`, and a throttling error to :meth:`RateGovernor.block`.

What is kept (all keys expire on their own; see :mod:`metasync.keys`):

- **Per ad account and use case** (``ads_management``, ``ads_insights``; which one a call
  spends: :func:`metasync.budgets.use_case_of`), the calls of the rolling hour in 60 buckets
  (a hash of at most 60 fields, however many calls), against 95 % of Meta's formula for the
  app's tier and the account's active ads (:meth:`RateGovernor.set_active_ads`). A bucket's
  calls leave the count when the whole bucket has left the window: a little early counting,
  never late. Meta's own percentage from ``X-Business-Use-Case-Usage`` replaces the estimate
  while fresh (plus the calls made since it came).
- **Per connection, platform calls per hour** (``/me``, ``debug_token``, token exchange;
  default 180 of the user's 200): a sliding-window log in a sorted set, with no burst at the
  window's edge. A warning is logged once per window when usage passes the warning share
  (default 90 %).
- **Blocked until**, per scope (``app``, ``connection``, ``account``, ``business`` and a
  business's or account's use case, ``business:<id>:<use case>``): set from
  ``reset_time_duration`` / ``estimated_time_to_regain_access`` or a throttling error's wait;
  a later block never shortens an earlier one.
- **Pacing**, per scope: above the slow-down threshold (default 85 %) calls are spaced by an
  interval growing linearly to :data:`MAX_PACE_SECONDS` at 100 %; a header below the threshold
  ends the pacing at once (it follows the latest usage, not the worst one).

Every check and the recording of the call happen in one Lua script
(:mod:`metasync.ratelimit_lua`), so concurrent workers cannot both take the last slot. Times come
from Redis's clock (``TIME``), so worker clocks do not matter.

When Redis cannot be reached, :class:`~metasync.graph.errors.RateGovernorUnavailable` is raised:
the governor fails closed (no call without a budget). Redis is also the Celery broker, so while it
is down no task is delivered anyway; the task retries once it is back.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import redis

from metasync import ratelimit_lua as lua
from metasync.budgets import ADS_INSIGHTS, ADS_MANAGEMENT, PLATFORM, formula, hourly_budget
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
BUDGET_SHARE = 0.95  # of Meta's per-account formula: headroom for calls we do not see
BUCKETS = 60  # an account budget's window is counted in 60 buckets (a minute each for an hour)
META_USAGE_TTL_SECONDS = 120.0  # Meta's percentage stands in for our count this long
META_RECHECK_SECONDS = 60.0  # over budget by Meta's percentage: ask again after this


@dataclass(frozen=True)
class Decision:
    """The governor's answer. ``wait_seconds`` is 0 when ``allowed``; ``used`` and ``budget``
    are the calls in the budget that governed it (this one included) and its size, when a
    budget counted it."""

    allowed: bool
    wait_seconds: float
    reason: str = ""
    used: int = 0
    budget: int = 0


class RateGovernor:
    """One shared set of budgets for all workers; construct one per process around a Redis
    client.

    ``calls_per_hour`` is the user's platform budget (per connection), with a warning logged
    once per window at ``warn_ratio`` of it; ``tier`` selects Meta's per-account formulas
    (:mod:`metasync.budgets`), of which ``budget_share`` is used (the rest is headroom for
    calls Meta counts that we do not see, e.g. Ads Manager on the same app); ``slowdown_pct``
    is the usage-header percentage above which calls are paced.
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
        tier: str = "limited",
        budget_share: float = BUDGET_SHARE,
    ) -> None:
        self._redis = client
        self.keys = keys or RedisKeys()
        self.calls_per_hour = calls_per_hour
        self.warn_at = max(1, math.ceil(calls_per_hour * warn_ratio))
        self.slowdown_pct = slowdown_pct
        self.window_ms = int(window_seconds * 1000)
        self.tier = tier
        self.budget_share = budget_share
        formula(tier, ADS_MANAGEMENT)  # an unknown tier fails here, not at the first call
        self._acquire_platform = client.register_script(lua.ACQUIRE_PLATFORM)
        self._acquire_account = client.register_script(lua.ACQUIRE_ACCOUNT)
        self._acquire_uncounted = client.register_script(lua.ACQUIRE_UNCOUNTED)
        self._block = client.register_script(lua.BLOCK)
        self._pace = client.register_script(lua.PACE)

    def _scope_keys(
        self,
        connection_id: str,
        account_id: str | None,
        business_id: str | None,
        use_case: str,
    ) -> list[str]:
        scopes = [("app", "all"), ("connection", connection_id)]
        for owner in (account_id, business_id):
            if owner:
                scopes += [("business", owner), ("business", f"{owner}:{use_case}")]
        if account_id:
            scopes.append(("account", account_id))
        keys: list[str] = []
        for scope, scope_id in scopes:
            keys += [self.keys.blocked(scope, scope_id), self.keys.pace(scope, scope_id)]
        return keys

    def set_active_ads(self, counts: Mapping[str, int]) -> None:
        """Record each ad account's active ads (from the mirror): Meta sizes its budgets by
        them. An account never recorded gets the smallest budget (no active ads)."""
        if not counts:
            return
        try:
            self._redis.hset(self.keys.active_ads(), mapping={k: int(v) for k, v in counts.items()})
        except redis.RedisError as exc:
            raise RateGovernorUnavailable(
                f"rate governor cannot reach Redis ({type(exc).__name__}); retry later"
            ) from None

    def budget(self, account_id: str, use_case: str) -> int:
        """The calls per window the governor allows ``account_id`` for ``use_case``."""
        raw = self._redis.hget(self.keys.active_ads(), account_id)
        ads = int(raw) if raw is not None else 0
        return math.floor(hourly_budget(self.tier, use_case, ads) * self.budget_share)

    def acquire(
        self,
        connection_id: str,
        *,
        account_id: str | None = None,
        business_id: str | None = None,
        use_case: str | None = None,
        cost: int = 1,
    ) -> Decision:
        """Ask to make ``cost`` calls now. Records them when allowed; never sleeps.

        ``use_case`` defaults to ``ads_management`` for a call on an ad account and to the
        platform budget for one without.
        """
        kind = use_case or (ADS_MANAGEMENT if account_id else PLATFORM)
        scope_keys = self._scope_keys(connection_id, account_id, business_id, kind)
        try:
            if kind == PLATFORM:
                keys = [self.keys.calls(connection_id), self.keys.budget_warned(connection_id)]
                args: list[int | str | float] = [
                    3,
                    self.window_ms,
                    self.calls_per_hour,
                    self.warn_at,
                    cost,
                    uuid.uuid4().hex,
                ]
                answer = self._acquire_platform(keys=keys + scope_keys, args=args)
            elif account_id:
                base, per_ad = formula(self.tier, kind)
                keys = [
                    self.keys.account_calls(account_id, kind),
                    self.keys.meta_usage(account_id, kind),
                    self.keys.active_ads(),
                ]
                args = [
                    4,
                    self.window_ms,
                    base,
                    per_ad,
                    account_id,
                    self.budget_share,
                    cost,
                    BUCKETS,
                    int(META_RECHECK_SECONDS * 1000),
                ]
                answer = self._acquire_account(keys=keys + scope_keys, args=args)
            else:
                answer = self._acquire_uncounted(keys=scope_keys, args=[1])
        except redis.RedisError as exc:
            raise RateGovernorUnavailable(
                f"rate governor cannot reach Redis ({type(exc).__name__}); retry later"
            ) from None
        allowed, wait_ms, reason, warn, used, budget = answer
        if warn:
            log.warning(
                "connection %s used %d of its %d platform calls this hour (/me, debug_token, "
                "token exchange)",
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
            int(budget),
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
        """Block whatever scope a throttling error names, for its ``retry_after``: an ad
        account, one use case of a business or account (80000 blocks insights, 80004
        management), the user's platform budget (17), or the app."""
        if error.scope == "account" and account_id:
            self.block("account", account_id, error.retry_after)
        elif error.scope == "business":
            owner = error.scope_id or account_id or "all"
            scope_id = f"{owner}:{error.use_case}" if error.use_case else owner
            self.block("business", scope_id, error.retry_after)
        elif error.scope == "user":
            self.block("connection", connection_id, error.retry_after)
        elif error.scope != "governor":
            self.block("app", "all", error.retry_after)

    def _remember_meta_usage(self, meta: Mapping[str, float]) -> None:
        """Meta's percentage of each use-case budget wins over our estimate while fresh."""
        if not meta:
            return
        pipe = self._redis.pipeline(transaction=False)
        for key, pct in meta.items():
            pipe.hset(key, mapping={"pct": pct, "after": 0})
            pipe.pexpire(key, int(META_USAGE_TTL_SECONDS * 1000))
        pipe.execute()

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
        meta: dict[str, float] = {}
        for entry in report.business:
            scope_id = f"{entry.business_id}:{entry.type}" if entry.type else entry.business_id
            if entry.regain_seconds > 0:
                self.block("business", scope_id, entry.regain_seconds)
            elif entry.max_pct >= 100:
                self.block("business", scope_id, DEFAULT_BLOCK_SECONDS)
            note("business", scope_id, entry.max_pct)
            if entry.type in (ADS_MANAGEMENT, ADS_INSIGHTS):
                key = self.keys.meta_usage(entry.business_id, entry.type)
                meta[key] = max(meta.get(key, 0.0), entry.max_pct)
        self._remember_meta_usage(meta)
        if report.insights is not None:
            note("app", "all", report.insights.app_id_util_pct)
            if account_id:
                note("account", account_id, report.insights.acc_id_util_pct)
        for (scope, scope_id), pct in highest.items():
            self._pace_for(scope, scope_id, pct)
