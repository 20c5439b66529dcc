"""Mirror values read as the numbers of their warehouse columns, never raising on one that is
no number.

The mirror's documents validate their numbers when a sync writes them, but a field written by
hand, by an earlier metasync or by a migration may hold anything. A value that cannot be read
as its column's number is returned as :class:`~metasync.export.values.Unconvertible` (its kind,
never the value), which the destination's checks (:mod:`metasync.export.values`) set aside
with its one row, named, while the rest of the batch is written. Amounts are ``Decimal`` (exact,
as the mirror keeps money); counts are ``int``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from metasync.export.values import Unconvertible
from metasync.models import as_decimal
from metasync.sync.shapes.mapping import ZERO_DECIMAL_CURRENCIES

__all__ = ["amount", "as_date", "as_float", "integer", "minor_units", "number", "spent", "total"]


def number(value: Any) -> Decimal | Unconvertible | None:
    """``value`` (a number, ``Decimal128`` or its text) as a ``Decimal``, NaN and infinities
    included; None stays None. Anything else is :class:`Unconvertible`, named by its kind."""
    if value is None or isinstance(value, Unconvertible):
        return value
    try:
        return as_decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return Unconvertible("text" if isinstance(value, str) else type(value).__name__)


def amount(value: Any) -> Decimal | Unconvertible | None:
    """An exact amount (``numeric`` columns, minor units): :func:`number` without NaN and
    infinities, which are no amount and which not every destination's decimal type holds."""
    read = number(value)
    if isinstance(read, Decimal) and not read.is_finite():
        return Unconvertible("NaN" if read.is_nan() else "infinity")
    return read


def integer(value: Any) -> int | Unconvertible | None:
    """A count (impressions, clicks, reach) as an integer; None stays None. A fraction is not
    rounded: a count that is not whole is a wrong count, and its row is set aside."""
    read = amount(value)
    if not isinstance(read, Decimal):
        return read
    if read != read.to_integral_value():
        return Unconvertible("fraction")
    return int(read)


def minor_units(value: Any, currency: str | None) -> int | Unconvertible | None:
    """An amount in ``currency``'s minor units (cents; the unit itself where the currency has
    none), fractions of a minor unit dropped, as Meta gives budgets."""
    read = amount(value)
    if not isinstance(read, Decimal):
        return read
    return int(read if (currency or "") in ZERO_DECIMAL_CURRENCIES else read * 100)


def as_float(value: Any) -> float | Unconvertible | None:
    """A ratio or rate (``double`` columns); NaN and infinities pass, as doubles hold them."""
    read = number(value)
    return float(read) if isinstance(read, Decimal) else read


def as_date(value: Any) -> date | Unconvertible | None:
    """A mirror day (``YYYY-MM-DD`` text, as the mirror keeps the days of its rows) as a
    ``date``; None stays None. Anything else (text that is no day, a number, a time) is
    :class:`Unconvertible`, named by its kind, so its one row is set aside like a bad number's
    (``date`` columns are checked as number columns are: :mod:`metasync.export.values`)."""
    if value is None or isinstance(value, Unconvertible) or type(value) is date:
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return Unconvertible("text")
    return Unconvertible("time" if isinstance(value, datetime) else type(value).__name__)


def total(counts: Iterable[Any]) -> int | Unconvertible:
    """The sum of ``counts`` (None and empty text count 0), or the first that is no whole
    number."""
    summed = 0
    for value in counts:
        count = integer(value) if value != "" else None
        if isinstance(count, Unconvertible):
            return count
        summed += count or 0
    return summed


def spent(amounts: Iterable[Any]) -> Decimal | Unconvertible:
    """The sum of ``amounts`` (None counts 0), or the first that is no amount."""
    summed = Decimal(0)
    for value in amounts:
        read = amount(value)
        if isinstance(read, Unconvertible):
            return read
        summed += read or Decimal(0)
    return summed
