"""Spend, results and cost per result for the console's overview: per ad account for its
yesterday and its last 7 days (in its own currency and time zone), and per tenant in the
tenant's reporting currency.

**Figures.** From the account-level daily rows (no breakdown, the default attribution), as
Meta reports them: ``spend`` in major units of the account's currency, results are the
``conversions`` the tenant counts (:class:`~metasync.models.TenantSettings`). An account's
"yesterday" is the day before today in its own time zone, and "7 days" are the seven days up to
that one, so each account's figures cover complete days of its own.

**Tenant totals** convert each account's day at that day's reference rate
(:class:`~metasync.export.currency.Converter`, the rates the export uses). A day without a
usable rate is left out of the total and said so (``note``), never guessed; a tenant without a
reporting currency gets one total per currency instead.

**Cost.** The accounts of a page: one query for their rows of the last 8 days (at most 50
accounts x 8 rows, read in one batch). A tenant's totals: one query of its account-level rows
of the last 8 days (8 rows per account) and one of its accounts' currencies and time zones,
each read in batches of :data:`BATCH` (one batch up to 1,250 accounts), and one or two per
currency for the rates. That grows with the tenant's accounts, so the totals are read on the
full page load only, not on the 5-second refresh of the table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from metasync.export.currency import Converter
from metasync.health.compute import AccountHealth
from metasync.models import AdAccount, Campaign, DailyInsight, TenantSettings, as_decimal

__all__ = [
    "WEEK",
    "AccountFigures",
    "CampaignFigures",
    "Figures",
    "TenantTotals",
    "account_figures",
    "campaign_figures",
    "period_figures",
    "tenant_totals",
]

WEEK = 7
BATCH = 10_000  # a page's rows in one batch: the commands a page sends do not grow with it
ZERO = Decimal(0)


@dataclass
class Figures:
    """Spend (major units) and results over some days."""

    spend: Decimal = ZERO
    results: Decimal = ZERO
    days: int = 0  # days with a row

    def add(self, spend: Decimal, results: Decimal) -> None:
        self.spend += spend
        self.results += results
        self.days += 1


@dataclass
class AccountFigures:
    """One account's ``yesterday`` (the day ``day``, its time zone) and its 7 ``week`` days."""

    currency: str
    day: str
    yesterday: Figures = field(default_factory=Figures)
    week: Figures = field(default_factory=Figures)


@dataclass
class TenantTotals:
    """A tenant's accounts summed: in ``currency`` (its reporting currency) when it has one,
    else one :class:`Figures` per account currency in ``by_currency``. ``note`` says which days
    had no rate (their spend is not in the totals)."""

    tenant_id: str
    currency: str | None
    yesterday: Figures = field(default_factory=Figures)
    week: Figures = field(default_factory=Figures)
    by_currency: dict[str, tuple[Figures, Figures]] = field(default_factory=dict)
    accounts: int = 0
    accounts_by_currency: dict[str, int] = field(default_factory=dict)
    note: str | None = None


def yesterday_of(timezone_name: str | None, now: datetime) -> date:
    """The day before today in the account's time zone."""
    return now.astimezone(ZoneInfo(timezone_name or "UTC")).date() - timedelta(days=1)


def _amount(value: Any) -> Decimal:
    found = as_decimal(value)
    return found if found is not None and found.is_finite() else ZERO


def _rows(tenant_id: str, accounts: Iterable[str] | None, since: str) -> Iterable[dict[str, Any]]:
    query: dict[str, Any] = {
        "tenant_id": tenant_id,
        "level": "account",
        "breakdown_key": "",
        "attribution_key": "default",
        "date": {"$gte": since},
    }
    if accounts is not None:
        query["account_id"] = {"$in": sorted(set(accounts))}
    fields = {"_id": 0, "account_id": 1, "date": 1, "spend": 1, "conversions": 1}
    rows: Iterable[dict[str, Any]] = DailyInsight._get_collection().find(
        query, fields, batch_size=BATCH
    )
    return rows


def _figures_of(
    tenant_id: str,
    zones: dict[str, tuple[str, str]],
    now: datetime,
    only: bool,
    kept: dict[str, list[Any]] | None = None,
) -> dict[str, AccountFigures]:
    """Account id -> its figures, for ``zones`` (account id -> (currency, time zone)); the
    rows read are added to ``kept`` by account when given."""
    found = {
        account: AccountFigures(currency, yesterday_of(zone, now).isoformat())
        for account, (currency, zone) in zones.items()
    }
    if not found:
        return found
    earliest = min(date.fromisoformat(f.day) for f in found.values()) - timedelta(days=WEEK - 1)
    for row in _rows(tenant_id, list(found) if only else None, earliest.isoformat()):
        figures = found.get(row["account_id"])
        if figures is None:
            continue
        if kept is not None:
            kept[row["account_id"]].append(row)
        first = (date.fromisoformat(figures.day) - timedelta(days=WEEK - 1)).isoformat()
        spend, results = _amount(row.get("spend")), _amount(row.get("conversions"))
        if first <= row["date"] <= figures.day:
            figures.week.add(spend, results)
        if row["date"] == figures.day:
            figures.yesterday.add(spend, results)
    return found


def account_figures(
    accounts: Iterable[AccountHealth], now: datetime
) -> dict[tuple[str, str], AccountFigures]:
    """(tenant, account id) -> figures, for the accounts of one overview page."""
    by_tenant: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for h in accounts:
        by_tenant[h.tenant_id][h.account_id] = (h.currency, h.timezone_name)
    return {
        (tenant, account): figures
        for tenant, zones in by_tenant.items()
        for account, figures in _figures_of(tenant, zones, now, only=True).items()
    }


def _convert(
    totals: TenantTotals, figures: dict[str, AccountFigures], days: dict[str, list[Any]]
) -> None:
    """Sum the accounts' figures into ``totals`` in its reporting currency, a day at a time."""
    target = totals.currency or ""
    converter = Converter(target)
    every_day = [f.day for f in figures.values()]
    first = (date.fromisoformat(min(every_day)) - timedelta(days=WEEK - 1)).isoformat()
    converter.prepare({f.currency for f in figures.values() if f.currency}, first, max(every_day))
    missing: set[str] = set()
    for account, rows in days.items():
        currency, day = figures[account].currency, figures[account].day
        start = (date.fromisoformat(day) - timedelta(days=WEEK - 1)).isoformat()
        for row in rows:
            if not start <= row["date"] <= day:
                continue
            rate = converter.rate(currency or None, row["date"])
            results = _amount(row.get("conversions"))
            if rate is None:
                missing.add(converter.reason(currency or None, row["date"]) or "no rate")
                continue
            spend = (_amount(row.get("spend")) * rate).quantize(Decimal("0.01"))
            totals.week.add(spend, results)
            if row["date"] == day:
                totals.yesterday.add(spend, results)
    if missing:
        totals.note = "not in the totals: " + "; ".join(sorted(missing))


def tenant_totals(tenant_ids: Iterable[str], now: datetime) -> list[TenantTotals]:
    """Each tenant's yesterday and 7 days over all its accounts (see the module's docstring)."""
    result = []
    for tenant_id in sorted(set(tenant_ids)):
        settings = TenantSettings.objects(tenant_id=tenant_id).only("reporting_currency").first()
        zones = {
            a.meta_id.removeprefix("act_"): (a.currency or "", a.timezone_name or "UTC")
            for a in AdAccount.objects(tenant_id=tenant_id)
            .only("meta_id", "currency", "timezone_name")
            .batch_size(BATCH)
        }
        days: dict[str, list[Any]] = defaultdict(list)
        figures = _figures_of(tenant_id, zones, now, only=False, kept=days)
        totals = TenantTotals(tenant_id, settings.reporting_currency if settings else None)
        totals.accounts = len(figures)
        if not figures:
            result.append(totals)
            continue
        if totals.currency:
            _convert(totals, figures, days)
        else:
            for f in figures.values():
                counted = totals.accounts_by_currency.get(f.currency, 0) + 1
                totals.accounts_by_currency[f.currency] = counted
                pair = totals.by_currency.setdefault(f.currency, (Figures(), Figures()))
                pair[0].spend += f.yesterday.spend
                pair[0].results += f.yesterday.results
                pair[1].spend += f.week.spend
                pair[1].results += f.week.results
        result.append(totals)
    return result


@dataclass
class CampaignFigures:
    """One campaign's figures over a period of its account's days, with its name."""

    campaign_id: str
    name: str
    figures: Figures = field(default_factory=Figures)


def campaign_figures(
    tenant_id: str, account_id: str, since: str, until: str
) -> list[CampaignFigures]:
    """The account's campaigns with rows in ``since``..``until`` (campaign-level daily rows),
    most spend first. One query for the rows (campaigns x days), one for the names."""
    found: dict[str, CampaignFigures] = {}
    query = {
        "tenant_id": tenant_id,
        "account_id": account_id,
        "level": "campaign",
        "breakdown_key": "",
        "attribution_key": "default",
        "date": {"$gte": since, "$lte": until},
    }
    fields = {"_id": 0, "entity_id": 1, "spend": 1, "conversions": 1}
    for row in DailyInsight._get_collection().find(query, fields, batch_size=BATCH):
        entry = found.setdefault(row["entity_id"], CampaignFigures(row["entity_id"], ""))
        entry.figures.add(_amount(row.get("spend")), _amount(row.get("conversions")))
    for campaign in Campaign.objects(tenant_id=tenant_id, meta_id__in=list(found)).only(
        "meta_id", "name"
    ):
        found[campaign.meta_id].name = campaign.name or ""
    return sorted(found.values(), key=lambda c: (-c.figures.spend, c.name, c.campaign_id))


def period_figures(tenant_id: str, account_id: str, since: str, until: str) -> Figures:
    """The account's own figures over ``since``..``until`` (its account-level rows)."""
    total = Figures()
    query = {
        "tenant_id": tenant_id,
        "account_id": account_id,
        "level": "account",
        "breakdown_key": "",
        "attribution_key": "default",
        "date": {"$gte": since, "$lte": until},
    }
    fields = {"_id": 0, "spend": 1, "conversions": 1}
    for row in DailyInsight._get_collection().find(query, fields, batch_size=BATCH):
        total.add(_amount(row.get("spend")), _amount(row.get("conversions")))
    return total
