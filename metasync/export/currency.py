"""A tenant's reporting currency: daily reference rates and the conversion that uses them.

Rates come from a file in the shape of the European Central Bank's daily reference rates
(``eurofxref-hist.csv``, or the ``.zip`` holding it: a ``Date`` column, then one column per
currency of units per euro, ``N/A`` where none was set). :func:`load_rates` stores them as
:class:`~metasync.models.FxRate` documents. A day without rates (weekends, the bank's holidays)
takes the latest earlier day's, as the bank's own guidance says; a conversion with no rate on
or before its day gives None rather than a guess.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from metasync.models import FxRate, as_decimal, upsert_page

__all__ = ["Converter", "RatesError", "load_rates", "parse_rates", "reporting_columns"]

EURO = "EUR"
CENT = Decimal("0.01")


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


def load_rates(url: str, timeout: float = 30.0) -> int:
    """Fetch the rates file at ``url`` (http(s) or a local path) and store every rate in it;
    returns how many rates it held. Idempotent: the bank restates nothing, a day stays."""
    if url.startswith(("http://", "https://")):
        try:
            response = requests.get(url, timeout=timeout)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise RatesError(f"{url}: {exc}") from None
        content = response.content
    else:
        path = url.removeprefix("file://")
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError as exc:
            raise RatesError(f"{url}: {exc.strerror}") from None
    rows = parse_rates(content, url)
    for start in range(0, len(rows), 5000):
        upsert_page(FxRate, rows[start : start + 5000])
    return len(rows)


@dataclass
class Converter:
    """Converts amounts of one day into ``target`` at that day's reference rate."""

    target: str
    _rates: dict[str, list[tuple[str, Decimal]]] = field(default_factory=dict)
    _found: dict[tuple[str | None, str], Decimal | None] = field(default_factory=dict)

    def prepare(self, currencies: Iterable[str], first: str, last: str) -> None:
        """Load the rates of ``currencies`` (and the target) for ``first``..``last`` plus the
        two weeks before ``first`` (the latest earlier day's rate fills a gap)."""
        from datetime import date, timedelta

        since = (date.fromisoformat(first) - timedelta(days=14)).isoformat()
        wanted = sorted({*currencies, self.target} - {EURO} - set(self._rates))
        if not wanted:
            return
        self._found.clear()
        for name in wanted:
            self._rates[name] = []
        query = FxRate.objects(currency__in=wanted, date__gte=since, date__lte=last)
        for rate in query.order_by("date").only("currency", "date", "per_euro"):
            self._rates[rate.currency].append((rate.date, Decimal(str(rate.per_euro))))

    def _per_euro(self, currency: str, day: str) -> Decimal | None:
        if currency == EURO:
            return Decimal(1)
        best = None
        for when, rate in self._rates.get(currency, []):
            if when > day:
                break
            best = rate
        return best

    def rate(self, source: str | None, day: str) -> Decimal | None:
        """Units of the target per unit of ``source`` on ``day``; None without a rate."""
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


def reporting_columns(
    converter: Converter | None, currency: str | None, day: str | None, **amounts: Any
) -> dict[str, Any]:
    """``reporting_currency``, ``fx_rate`` and ``<name>_reporting`` for each of ``amounts``
    (in ``currency`` on ``day``) converted to cents; all None without a converter, a day or a
    rate. The one place the export and the API convert."""
    rate = converter.rate(currency, day) if converter is not None and day else None
    columns: dict[str, Any] = {
        "reporting_currency": converter.target if converter is not None else None,
        "fx_rate": rate,
    }
    for name, value in amounts.items():
        amount = as_decimal(value)
        converted = None if amount is None or rate is None else amount * rate
        columns[f"{name}_reporting"] = None if converted is None else converted.quantize(CENT)
    return columns
