"""A tenant's reporting currency: daily reference rates and the conversion that uses them.

Rates come from a file in the shape of the European Central Bank's daily reference rates
(``eurofxref-hist.csv``, or the ``.zip`` holding it: a ``Date`` column, then one column per
currency of units per euro, ``N/A`` where none was set). :func:`load_rates` stores them as
:class:`~metasync.models.FxRate` documents and asks for the days they change to be exported
again (:mod:`metasync.export.rebuild`).

**A usable rate.** A day without rates (weekends, the bank's holidays) takes the latest earlier
day's, as the bank's own guidance says, up to :data:`STALE_DAYS` days back (the bank's longest
gap, around Easter or the new year, is four working days). A conversion without a usable rate
gives None and says why (:meth:`Converter.reason`, the ``reporting_note`` column and field)
rather than a guess; :func:`gaps` sums those days up per currency for people.

Converted values are not stored in the mirror: the export and the API compute them when they
read a row (:func:`reporting_columns`), so a change of currency or rates needs only the rows
sent again, not rewritten.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from metasync.export import rebuild
from metasync.models import AdAccount, FxRate, TenantSettings, as_decimal, upsert_page

__all__ = [
    "STALE_DAYS",
    "Converter",
    "Gap",
    "RatesError",
    "RatesLoad",
    "gaps",
    "load_rates",
    "parse_rates",
    "reporting_columns",
]

EURO = "EUR"
CENT = Decimal("0.01")
STALE_DAYS = 14  # how far back a day without a rate of its own takes the latest earlier one
LOAD_HINT = "load rates with `metasync export rates --from FILE`"


class RatesError(ValueError):
    """The rates file could not be read; the message names the source and the problem."""


def parse_rates(content: bytes, source: str) -> list[dict[str, object]]:
    """Rows ``{date, currency, per_euro}`` from an ECB-shaped CSV or a zip holding one."""
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if not names:
                raise RatesError(f"{source}: the zip file holds no .csv file")
            content = archive.read(names[0])
    try:
        reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
    except UnicodeDecodeError as exc:
        raise RatesError(f"{source}: not a text file ({exc})") from None
    if not reader.fieldnames or reader.fieldnames[0].strip() != "Date":
        raise RatesError(f"{source}: expected a 'Date' column first, found {reader.fieldnames}")
    rows: list[dict[str, object]] = []
    for line in reader:
        day = (line.get("Date") or "").strip()
        for name, value in line.items():
            currency = (name or "").strip()
            if currency in ("", "Date") or value is None or value.strip() in ("", "N/A"):
                continue
            try:
                rate = Decimal(value.strip())
            except InvalidOperation:
                raise RatesError(
                    f"{source}: {currency} on {day} is {value!r}, not a rate"
                ) from None
            if rate <= 0 or not rate.is_finite():
                raise RatesError(f"{source}: {currency} on {day} is {value!r}, not a rate")
            rows.append({"date": day, "currency": currency, "per_euro": rate})
    if not rows:
        raise RatesError(f"{source}: no rates in the file")
    return rows


@dataclass
class RatesLoad:
    """What :func:`load_rates` stored: ``rows`` rates read, ``changed`` of them new or
    different, and per currency the first day whose rate changed."""

    rows: int
    changed: int = 0
    first_changed: dict[str, str] = field(default_factory=dict)


def _fetch(url: str, timeout: float) -> bytes:
    if url.startswith(("http://", "https://")):
        try:
            response = requests.get(url, timeout=timeout)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise RatesError(
                f"could not fetch the rates from {url}: {exc}. Without access to it, download "
                "eurofxref-hist.zip elsewhere and load it with `metasync export rates --from "
                "/path/to/eurofxref-hist.zip` (or set FX_RATES_URL=/path/to/eurofxref-hist.zip)"
            ) from None
        return response.content
    path = url.removeprefix("file://")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise RatesError(
            f"could not read the rates file {path}: {exc.strerror} (give the path of an "
            "ECB-shaped eurofxref-hist.csv or .zip, or an http(s) URL)"
        ) from None


def load_rates(url: str, timeout: float = 30.0) -> RatesLoad:
    """Fetch the rates file at ``url`` (http(s) or a local path) and store every rate in it.
    Idempotent: a rate already stored with the same value is not changed. The days a new or
    different rate touches are then waiting to be exported again for every tenant converting
    from or into its currency (:func:`metasync.export.rebuild.after_rates`)."""
    rows = parse_rates(_fetch(url, timeout), url)
    load = RatesLoad(len(rows))
    for start in range(0, len(rows), 5000):
        page = rows[start : start + 5000]
        stored = {
            (r["date"], r["currency"]): Decimal(str(r["per_euro"]))
            for r in FxRate._get_collection().find(
                {"date": {"$in": sorted({str(r["date"]) for r in page})}},
                {"date": 1, "currency": 1, "per_euro": 1, "_id": 0},
            )
        }
        changed = [r for r in page if stored.get((r["date"], r["currency"])) != r["per_euro"]]
        for row in changed:
            currency, day = str(row["currency"]), str(row["date"])
            load.first_changed[currency] = min(day, load.first_changed.get(currency, day))
        load.changed += len(changed)
        if changed:
            upsert_page(FxRate, changed)
    if load.first_changed:
        rebuild.after_rates(load.first_changed)
    return load


def _days_before(day: str, days: int) -> str:
    return (date.fromisoformat(day) - timedelta(days=days)).isoformat()


@dataclass
class Converter:
    """Converts amounts of one day into ``target`` at that day's reference rate (see the
    module's docstring for a usable rate)."""

    target: str
    _rates: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)
    _spans: dict[str, tuple[str, str]] = field(default_factory=dict)  # days loaded, per currency
    _known: set[str] = field(default_factory=set)  # currencies with any rate at all
    _found: dict[tuple[str | None, str], Decimal | None] = field(default_factory=dict)

    def prepare(self, currencies: Iterable[str], first: str, last: str) -> None:
        """Load the rates of ``currencies`` (and the target) for ``first``..``last`` plus the
        :data:`STALE_DAYS` before ``first``; a currency loaded before for a narrower span is
        loaded again for both."""
        since = _days_before(first, STALE_DAYS)
        wanted: dict[str, tuple[str, str]] = {}
        for name in sorted({*currencies, self.target} - {EURO}):
            span = self._spans.get(name)
            if span is None:
                wanted[name] = (since, last)
            elif span[0] > since or span[1] < last:
                wanted[name] = (min(span[0], since), max(span[1], last))
        if not wanted:
            return
        self._found.clear()
        for name, (lower, upper) in wanted.items():
            self._spans[name] = (lower, upper)
            query = FxRate.objects(currency=name, date__gte=lower, date__lte=upper)
            rates = [
                (r.date, Decimal(str(r.per_euro)))
                for r in query.order_by("date").only("date", "per_euro")
            ]
            self._rates[name] = rates
            if rates or FxRate.objects(currency=name).only("id").first() is not None:
                self._known.add(name)

    def _per_euro(self, currency: str, day: str) -> Decimal | None:
        if currency == EURO:
            return Decimal(1)
        oldest = _days_before(day, STALE_DAYS)
        best = None
        for when, rate in self._rates.get(currency, []):
            if when > day:
                break
            if when >= oldest:
                best = rate
        return best

    def rate(self, source: str | None, day: str) -> Decimal | None:
        """Units of the target per unit of ``source`` on ``day``; None without a usable rate."""
        key = (source, day)
        if key not in self._found:
            self._found[key] = self._rate(source, day)
        return self._found[key]

    def _rate(self, source: str | None, day: str) -> Decimal | None:
        if not source:
            return None
        if source == self.target:
            return Decimal(1)
        into, out_of = self._per_euro(self.target, day), self._per_euro(source, day)
        if into is None or out_of is None:
            return None
        return (into / out_of).quantize(Decimal("0.0000000001"))

    def missing(self, source: str | None, day: str) -> str | None:
        """The currency whose rate ``day`` lacks (``""``: the row has no currency); None when
        the day converts."""
        if self.rate(source, day) is not None:
            return None
        if not source:
            return ""
        return self.target if self._per_euro(self.target, day) is None else source

    def reason(self, source: str | None, day: str) -> str | None:
        """Why an amount in ``source`` on ``day`` has no value in the target; None when it
        has one."""
        missing = self.missing(source, day)
        if missing is None:
            return None
        if not missing:
            return "the row has no currency"
        if missing not in self._known:
            return f"the stored reference rates hold no {missing} at all; {LOAD_HINT} holding it"
        return f"no {missing} reference rate on {day} or the {STALE_DAYS} days before; {LOAD_HINT}"


def reporting_columns(
    converter: Converter | None, currency: str | None, day: str | None, **amounts: Any
) -> dict[str, Any]:
    """``reporting_currency``, ``fx_rate``, ``<name>_reporting`` for each of ``amounts`` (in
    ``currency`` on ``day``) converted to cents, and ``reporting_note``: why the values are
    None when the tenant converts but the day has no usable rate. All None without a
    converter. The one place the export and the API convert."""
    rate = converter.rate(currency, day) if converter is not None and day else None
    note = None
    if converter is not None and rate is None:
        note = converter.reason(currency, day) if day else "the row has no day"
    columns: dict[str, Any] = {
        "reporting_currency": converter.target if converter is not None else None,
        "fx_rate": rate,
    }
    for name, value in amounts.items():
        try:
            amount = as_decimal(value)
        except (InvalidOperation, ValueError, TypeError):  # no number: the row is set aside
            amount = None
        if amount is not None and not amount.is_finite():
            amount = None
        converted = None if amount is None or rate is None else amount * rate
        columns[f"{name}_reporting"] = None if converted is None else converted.quantize(CENT)
    columns["reporting_note"] = note
    return columns


@dataclass(frozen=True)
class Gap:
    """Stored days of one account currency that have no value in the reporting currency
    ``target``: ``days`` of them from ``first`` to ``last``, for want of a ``missing`` rate
    (``""``: rows without a currency)."""

    currency: str
    target: str
    missing: str
    days: int
    first: str
    last: str

    def message(self) -> str:
        """One line for people, with what to do."""
        where = f"in {self.currency}" if self.currency else "without a currency"
        span = self.first if self.first == self.last else f"{self.first}..{self.last}"
        day_word = "day" if self.days == 1 else "days"
        if not self.missing:
            return f"{self.days} {day_word} {where} ({span}) have no {self.target} value"
        return (
            f"{self.days} {day_word} {where} ({span}) have no {self.target} value: no usable "
            f"{self.missing} reference rate (on the day or the {STALE_DAYS} days before); "
            f"{LOAD_HINT}"
        )

    def record(self) -> dict[str, Any]:
        """As stored on an export's run (:attr:`~metasync.models.ExportRun.unconverted`)."""
        return {
            "currency": self.currency,
            "target": self.target,
            "missing": self.missing,
            "days": self.days,
            "first": self.first,
            "last": self.last,
            "reason": self.message(),
        }


def gaps(tenant_id: str) -> list[Gap]:
    """The tenant's stored days (daily rows and report rows, per ad account) whose amounts
    have no value in its reporting currency, grouped by account currency and missing rate;
    empty when it converts everything or has no reporting currency. Assumes a row's currency
    is its account's (as Meta reports it)."""
    settings = TenantSettings.objects(tenant_id=tenant_id).only("reporting_currency").first()
    if settings is None or not settings.reporting_currency:
        return []
    converter = Converter(settings.reporting_currency)
    currency_of = {
        a.account_id: a.currency or ""
        for a in AdAccount.objects(tenant_id=tenant_id).only("account_id", "currency")
    }
    found: dict[tuple[str, str], list[str]] = {}
    for account, days in rebuild.days_by_account(tenant_id).items():
        if not days:
            continue
        currency = currency_of.get(account, "")
        converter.prepare([currency] if currency else [], days[0], days[-1])
        for day in days:
            missing = converter.missing(currency, day)
            if missing is not None:
                found.setdefault((currency, missing), []).append(day)
    result = []
    for (currency, missing), days in sorted(found.items()):
        unique = sorted(set(days))
        target = settings.reporting_currency
        result.append(Gap(currency, target, missing, len(unique), unique[0], unique[-1]))
    return result
