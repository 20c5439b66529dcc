"""Call counting, usage headers and throttling, the way Meta counts: Marketing API "Rate
limiting" (https://developers.facebook.com/docs/marketing-api/overview/rate-limiting) and Graph
API "Rate limits" (https://developers.facebook.com/docs/graph-api/overview/rate-limiting).

Every served call is counted in a rolling window (an hour by default) against:

- the app (``X-App-Usage``);
- the token's user, only for calls Meta counts against the Graph API platform limit (the
  ``/me`` node and its edges): 200 calls per user per hour, error ``(#17)``;
- the ad account the call is about, and that account's business-use-case budget for the call's
  use case (``ads_management`` for object reads, ``ads_insights`` for insights reads and report
  runs), sized by Meta's formula for the app's access tier and the account's active ads
  (:mod:`metasync.sandbox.rate_limits`). Past it: ``(#80004)`` (management) or ``(#80000)``
  (insights), with ``estimated_time_to_regain_access`` (minutes) in
  ``X-Business-Use-Case-Usage``. The account as a whole (``X-Ad-Account-Usage``, error
  ``(#17)`` subcode 2446079) may call the sum of its use cases' budgets unless a test sets a
  smaller one.

Usage headers report those counts as percentages of their budgets; a call past a budget is
refused with Meta's error, and refused calls are not counted. ``Budgets`` fields set to a
number replace the formulas (tests and benchmarks that want a storm).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from metasync.sandbox.errors import GraphError
from metasync.sandbox.rate_limits import ADS_INSIGHTS, ADS_MANAGEMENT, PLATFORM, hourly_budget

__all__ = ["Budgets", "UsageTracker"]

TIER_HEADER = {"limited": "development_access", "full": "standard_access"}


@dataclass
class Budgets:
    """Calls per window. ``tier`` picks Meta's formulas; ``account`` and
    ``business_use_case`` replace them when set (None: the formula)."""

    app: int = 1_000_000
    user: int = 200
    account: int | None = None
    business_use_case: int | None = None
    window_seconds: float = 3600.0
    tier: str = "limited"

    def __post_init__(self) -> None:
        hourly_budget(self.tier, ADS_MANAGEMENT, 0)  # an unknown tier is refused here

    def use_case(self, kind: str, active_ads: int) -> int:
        if self.business_use_case is not None:
            return self.business_use_case
        return hourly_budget(self.tier, kind, active_ads)

    def whole_account(self, active_ads: int) -> int:
        if self.account is not None:
            return self.account
        return sum(self.use_case(kind, active_ads) for kind in (ADS_MANAGEMENT, ADS_INSIGHTS))


class _Window:
    def __init__(self) -> None:
        self.calls: deque[float] = deque()

    def count(self, now: float, window: float) -> int:
        while self.calls and self.calls[0] <= now - window:
            self.calls.popleft()
        return len(self.calls)

    def seconds_until_free(self, now: float, window: float) -> float:
        return max(0.0, self.calls[0] + window - now) if self.calls else 0.0


class UsageTracker:
    """``active_ads(account_id)`` gives an account's active ads (Meta sizes budgets by it)."""

    def __init__(
        self,
        budgets: Budgets,
        clock: Callable[[], float] = time.monotonic,
        active_ads: Callable[[str], int] = lambda _: 0,
    ) -> None:
        self.budgets = budgets
        self.clock = clock
        self.active_ads = active_ads
        self._windows: dict[str, _Window] = defaultdict(_Window)
        self._order = random.Random(0)  # Meta lists an id's use-case entries in no fixed order

    def _pct(self, key: str, budget: int, now: float) -> float:
        if budget <= 0:  # a budget of nothing is spent before the first call
            return 100.0
        return round(100.0 * self._windows[key].count(now, self.budgets.window_seconds) / budget, 2)

    def _full(self, key: str, budget: int, now: float) -> bool:
        return self._windows[key].count(now, self.budgets.window_seconds) >= budget

    def check(self, user_id: str | None, account_id: str | None, use_case: str) -> None:
        """Refuse the call with Meta's throttling error when a budget it spends is spent."""
        now, budgets = self.clock(), self.budgets

        def refuse(code: int, message: str, subcode: int | None = None) -> GraphError:
            return GraphError(
                400,
                code,
                message,
                subcode=subcode,
                is_transient=True,
                headers=self.headers(user_id, account_id, use_case),
            )

        if self._full("app", budgets.app, now):
            raise refuse(4, "(#4) Application request limit reached")
        if use_case == PLATFORM and user_id and self._full(f"user:{user_id}", budgets.user, now):
            raise refuse(17, "(#17) User request limit reached")
        if not account_id or use_case == PLATFORM:
            return
        ads = self.active_ads(account_id)
        if self._full(f"buc:{account_id}:{use_case}", budgets.use_case(use_case, ads), now):
            code = 80000 if use_case == ADS_INSIGHTS else 80004
            raise refuse(
                code,
                f"(#{code}) There have been too many calls from this ad-account. Wait a bit "
                "and try again. For more info, please refer to "
                "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            )
        if self._full(f"account:{account_id}", budgets.whole_account(ads), now):
            raise refuse(17, "(#17) User request limit reached", subcode=2446079)

    def record(self, user_id: str | None, account_id: str | None, use_case: str) -> None:
        now = self.clock()
        keys = ["app"]
        if user_id and use_case == PLATFORM:
            keys.append(f"user:{user_id}")
        if account_id and use_case != PLATFORM:
            keys += [f"account:{account_id}", f"buc:{account_id}:{use_case}"]
        for key in keys:
            self._windows[key].calls.append(now)

    def headers(self, user_id: str | None, account_id: str | None, use_case: str) -> dict[str, str]:
        now, window, budgets = self.clock(), self.budgets.window_seconds, self.budgets
        app_pct = self._pct("app", budgets.app, now)
        if user_id and use_case == PLATFORM:
            app_pct = max(app_pct, self._pct(f"user:{user_id}", budgets.user, now))
        headers = {
            "X-App-Usage": json.dumps(
                {
                    "call_count": app_pct,
                    "total_cputime": round(app_pct * 0.6, 2),
                    "total_time": round(app_pct * 0.7, 2),
                }
            )
        }
        if not account_id or use_case == PLATFORM:
            return headers
        ads = self.active_ads(account_id)
        tier = TIER_HEADER.get(budgets.tier, budgets.tier)
        account_key = f"account:{account_id}"
        account_pct = self._pct(account_key, budgets.whole_account(ads), now)
        reset = (
            self._windows[account_key].seconds_until_free(now, window)
            if (account_pct >= 100)
            else 0.0
        )
        headers["X-Ad-Account-Usage"] = json.dumps(
            {
                "acc_id_util_pct": account_pct,
                "reset_time_duration": math.ceil(reset),
                "ads_api_access_tier": tier,
            }
        )
        entries = []
        for kind in (ADS_MANAGEMENT, ADS_INSIGHTS):
            key = f"buc:{account_id}:{kind}"
            pct = self._pct(key, budgets.use_case(kind, ads), now)
            regain = self._windows[key].seconds_until_free(now, window) if pct >= 100 else 0.0
            entries.append(
                {
                    "type": kind,
                    "call_count": pct,
                    "total_cputime": round(pct * 0.5, 2),
                    "total_time": round(pct * 0.6, 2),
                    "estimated_time_to_regain_access": math.ceil(regain / 60),
                    "ads_api_access_tier": tier,
                }
            )
        self._order.shuffle(entries)
        headers["X-Business-Use-Case-Usage"] = json.dumps({account_id: entries})
        if use_case == ADS_INSIGHTS:
            headers["X-FB-Ads-Insights-Throttle"] = json.dumps(
                {"app_id_util_pct": app_pct, "acc_id_util_pct": account_pct}
            )
        return headers
