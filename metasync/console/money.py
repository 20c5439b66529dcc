"""Money as people read it on the console's pages: major units with the currency's own symbol
(``¥12,345``, ``$1,234.56``, ``€80.00``), never minor units, with CLDR's digits per currency
(Babel; English number format, so a page reads the same whoever opens it).

Amounts come from the mirror in major units (Meta's ``spend`` and ``revenue``), except budgets,
which Meta sends and metasync stores in minor units of the account's currency
(:func:`budget`, with Meta's own offsets: ``1250`` is 12.50 EUR and 1,250 JPY).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import UnknownCurrencyError, format_currency

from metasync.models import as_decimal
from metasync.sync.shapes.mapping import minor_units

__all__ = ["NOTHING", "budget", "cost_per_result", "money"]

NOTHING = "\u2013"  # an en dash: no figure (no rows, no results, no rate)
LOCALE = "en_US"


def _decimal(value: Any) -> Decimal | None:
    try:
        amount = as_decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return None
    return amount if amount is not None and amount.is_finite() else None


def money(value: Any, currency: str | None) -> str:
    """``value`` (major units of ``currency``) as ``$1,234.56``; the code after the amount when
    the currency is unknown to CLDR, and ``(currency unknown)`` without one."""
    amount = _decimal(value)
    if amount is None:
        return NOTHING
    code = (currency or "").upper()
    if not code:
        return f"{amount:,.2f} (currency unknown)"
    try:
        return str(format_currency(amount, code, locale=LOCALE))
    except UnknownCurrencyError:
        return f"{amount:,.2f} {code}"


def budget(value: Any, currency: str | None) -> str:
    """A budget as stored (minor units of ``currency``) in major units with its symbol."""
    return money(minor_units(value, currency), currency)


def cost_per_result(spend: Any, results: Any, currency: str | None) -> str:
    """Spend divided by results, in ``currency``; :data:`NOTHING` without results."""
    amount, count = _decimal(spend), _decimal(results)
    if amount is None or not count:
        return NOTHING
    return money(amount / count, currency)
