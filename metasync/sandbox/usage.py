"""Call counting, usage headers and throttling, from the sandbox's real call counts.

Every served Graph call is counted against the app, the token's user, the ad account and the
account's business-use-case bucket (``ads_management`` or ``ads_insights``) in a rolling window
(an hour by default). Usage headers report those counts as percentages of their budgets; a call
past a budget is refused with Meta's throttling error, and refused calls are not counted.
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

__all__ = ["Budgets", "UsageTracker"]


@dataclass
class Budgets:
    """Calls per window. The defaults are generous; tests and benchmarks lower them."""

    app: int = 1_000_000
    user: int = 100_000
    account: int = 100_000
    business_use_case: int = 100_000
    window_seconds: float = 3600.0


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
    def __init__(self, budgets: Budgets, clock: Callable[[], float] = time.monotonic) -> None:
        self.budgets = budgets
        self.clock = clock
        self._windows: dict[str, _Window] = defaultdict(_Window)
        self._order = random.Random(0)  # Meta lists an id's use-case entries in no fixed order

    def _pct(self, key: str, budget: int, now: float) -> float:
        if budget <= 0:  # a budget of nothing is spent before the first call
            return 100.0
        return round(100.0 * self._windows[key].count(now, self.budgets.window_seconds) / budget, 2)

    def check(self, user_id: str | None, account_id: str | None, insights: bool) -> None:
        """Refuse the call with Meta's throttling error when a budget is spent."""
        now, window, budgets = self.clock(), self.budgets.window_seconds, self.budgets
        if self._windows["app"].count(now, window) >= budgets.app:
            raise GraphError(
                400,
                4,
                "(#4) Application request limit reached",
                is_transient=True,
                headers=self.headers(user_id, account_id, insights),
            )
        if user_id and self._windows[f"user:{user_id}"].count(now, window) >= budgets.user:
            raise GraphError(
                400,
                17,
                "(#17) User request limit reached",
                is_transient=True,
                headers=self.headers(user_id, account_id, insights),
            )
        if account_id:
            bucket = f"buc:{account_id}:{'ads_insights' if insights else 'ads_management'}"
            if self._windows[bucket].count(now, window) >= budgets.business_use_case:
                code = 80000 if insights else 80004
                raise GraphError(
                    400,
                    code,
                    f"(#{code}) There have been too many calls to this "
                    "ad-account. Wait a bit and try again.",
                    is_transient=True,
                    headers=self.headers(user_id, account_id, insights),
                )
            if self._windows[f"account:{account_id}"].count(now, window) >= budgets.account:
                raise GraphError(
                    400,
                    17,
                    "(#17) User request limit reached",
                    subcode=2446079,
                    is_transient=True,
                    headers=self.headers(user_id, account_id, insights),
                )

    def record(self, user_id: str | None, account_id: str | None, insights: bool) -> None:
        now = self.clock()
        keys = ["app"]
        if user_id:
            keys.append(f"user:{user_id}")
        if account_id:
            keys += [
                f"account:{account_id}",
                f"buc:{account_id}:{'ads_insights' if insights else 'ads_management'}",
            ]
        for key in keys:
            self._windows[key].calls.append(now)

    def headers(
        self, user_id: str | None, account_id: str | None, insights: bool
    ) -> dict[str, str]:
        now, window, budgets = self.clock(), self.budgets.window_seconds, self.budgets
        app_pct = self._pct("app", budgets.app, now)
        if user_id:
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
        if not account_id:
            return headers
        account_key = f"account:{account_id}"
        account_pct = self._pct(account_key, budgets.account, now)
        reset = (
            self._windows[account_key].seconds_until_free(now, window)
            if (account_pct >= 100)
            else 0.0
        )
        headers["X-Ad-Account-Usage"] = json.dumps(
            {
                "acc_id_util_pct": account_pct,
                "reset_time_duration": math.ceil(reset),
                "ads_api_access_tier": "standard_access",
            }
        )
        entries = []
        for kind in ("ads_management", "ads_insights"):
            key = f"buc:{account_id}:{kind}"
            pct = self._pct(key, budgets.business_use_case, now)
            regain = self._windows[key].seconds_until_free(now, window) if pct >= 100 else 0.0
            entries.append(
                {
                    "type": kind,
                    "call_count": pct,
                    "total_cputime": round(pct * 0.5, 2),
                    "total_time": round(pct * 0.6, 2),
                    "estimated_time_to_regain_access": math.ceil(regain / 60),
                    "ads_api_access_tier": "standard_access",
                }
            )
        self._order.shuffle(entries)
        headers["X-Business-Use-Case-Usage"] = json.dumps({account_id: entries})
        if insights:
            headers["X-FB-Ads-Insights-Throttle"] = json.dumps(
                {"app_id_util_pct": app_pct, "acc_id_util_pct": account_pct}
            )
        return headers
