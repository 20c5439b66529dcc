"""Meta's usage headers, parsed into one typed report.

All values are percentages of a rolling one-hour budget, except ``reset_time_duration``
(seconds) and ``estimated_time_to_regain_access`` (**minutes**, converted to seconds here).
Headers are read from successful and failed answers and from every inner answer of a batch. A
header that is missing or malformed yields nothing for its part: usage is advisory and must never
make a good answer fail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AccountUsage",
    "AppUsage",
    "BusinessUseCaseUsage",
    "InsightsThrottle",
    "UsageReport",
    "parse_usage_headers",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppUsage:
    call_count: float = 0.0
    total_cputime: float = 0.0
    total_time: float = 0.0

    @property
    def max_pct(self) -> float:
        return max(self.call_count, self.total_cputime, self.total_time)


@dataclass(frozen=True)
class AccountUsage:
    acc_id_util_pct: float = 0.0
    reset_time_duration: float = 0.0  # seconds
    ads_api_access_tier: str | None = None


@dataclass(frozen=True)
class BusinessUseCaseUsage:
    """One entry of ``X-Business-Use-Case-Usage``: one id can hold several, one per type."""

    business_id: str
    type: str
    call_count: float = 0.0
    total_cputime: float = 0.0
    total_time: float = 0.0
    regain_seconds: float = 0.0  # estimated_time_to_regain_access, converted from minutes
    ads_api_access_tier: str | None = None

    @property
    def max_pct(self) -> float:
        return max(self.call_count, self.total_cputime, self.total_time)


@dataclass(frozen=True)
class InsightsThrottle:
    app_id_util_pct: float = 0.0
    acc_id_util_pct: float = 0.0


@dataclass(frozen=True)
class UsageReport:
    """Everything the usage headers of one answer said. Empty parts are ``None`` / empty."""

    app: AppUsage | None = None
    account: AccountUsage | None = None
    business: tuple[BusinessUseCaseUsage, ...] = field(default_factory=tuple)
    insights: InsightsThrottle | None = None

    @property
    def empty(self) -> bool:
        return (
            self.app is None
            and self.account is None
            and not self.business
            and (self.insights is None)
        )

    def longest_regain(self, use_case: str | None = None) -> tuple[str | None, float]:
        """The business/account id with the longest ``estimated_time_to_regain_access`` (s),
        among the entries of ``use_case`` when one is named and any has a regain time."""
        entries = [e for e in self.business if use_case is None or e.type == use_case]
        if not any(e.regain_seconds > 0 for e in entries):
            entries = list(self.business)
        best: tuple[str | None, float] = (None, 0.0)
        for entry in entries:
            if entry.regain_seconds > best[1]:
                best = (entry.business_id, entry.regain_seconds)
        return best

    def account_reset_seconds(self) -> float | None:
        """Seconds until the ad account's budget resets, when it is exhausted."""
        if self.account and self.account.acc_id_util_pct >= 100:
            return self.account.reset_time_duration or None
        return None

    def max_pct(self) -> float:
        """The highest utilisation any header reported (0-100+)."""
        values = [0.0]
        if self.app:
            values.append(self.app.max_pct)
        if self.account:
            values.append(self.account.acc_id_util_pct)
        values.extend(entry.max_pct for entry in self.business)
        if self.insights:
            values.extend((self.insights.app_id_util_pct, self.insights.acc_id_util_pct))
        return max(values)


def _header(headers: Mapping[str, str], name: str) -> Any:
    raw = headers.get(name)
    if raw is None:
        lowered = name.lower()
        raw = next((v for k, v in headers.items() if k.lower() == lowered), None)
    if raw is None or raw == "":
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        log.warning("ignoring malformed %s header", name)
        return None


def _num(mapping: Mapping[str, Any], key: str) -> float:
    try:
        return float(mapping.get(key) or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _text(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return str(value) if value is not None else None


def parse_usage_headers(headers: Mapping[str, str]) -> UsageReport:
    """Parse ``X-App-Usage``, ``X-Ad-Account-Usage``, ``X-Business-Use-Case-Usage`` (every
    entry of every id) and ``X-FB-Ads-Insights-Throttle`` from ``headers`` (any case)."""
    app = _header(headers, "X-App-Usage")
    account = _header(headers, "X-Ad-Account-Usage")
    business = _header(headers, "X-Business-Use-Case-Usage")
    insights = _header(headers, "X-FB-Ads-Insights-Throttle")
    entries: list[BusinessUseCaseUsage] = []
    if isinstance(business, dict):
        for business_id, items in business.items():
            for item in items if isinstance(items, list) else [items]:
                if not isinstance(item, dict):
                    continue
                entries.append(
                    BusinessUseCaseUsage(
                        business_id=str(business_id),
                        type=str(item.get("type") or "unknown"),
                        call_count=_num(item, "call_count"),
                        total_cputime=_num(item, "total_cputime"),
                        total_time=_num(item, "total_time"),
                        regain_seconds=_num(item, "estimated_time_to_regain_access") * 60.0,
                        ads_api_access_tier=_text(item, "ads_api_access_tier"),
                    )
                )
    return UsageReport(
        app=AppUsage(_num(app, "call_count"), _num(app, "total_cputime"), _num(app, "total_time"))
        if isinstance(app, dict)
        else None,
        account=AccountUsage(
            _num(account, "acc_id_util_pct"),
            _num(account, "reset_time_duration"),
            _text(account, "ads_api_access_tier"),
        )
        if isinstance(account, dict)
        else None,
        business=tuple(entries),
        insights=InsightsThrottle(
            _num(insights, "app_id_util_pct"), _num(insights, "acc_id_util_pct")
        )
        if isinstance(insights, dict)
        else None,
    )
