"""Daily reference rates in the shape of the European Central Bank's file
(https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.csv): a ``Date`` column, newest day
first, then one column per currency of units per euro, ``N/A`` where the bank set none, and a
trailing comma on every line. Rates are set on working days only (none on Saturdays and
Sundays), as the bank's are. Served at ``/_sandbox/ecb/eurofxref-hist.csv`` so a deployment can
point its rates source at the sandbox; each rate is drawn from the world's seed."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

__all__ = ["ecb_history"]

# units per euro around which each currency's daily rate moves (within 2 %)
CENTRES = {"USD": 1.08, "JPY": 162.0, "GBP": 0.85, "BRL": 6.1, "CHF": 0.95, "CAD": 1.47}


def _rate(seed: int, currency: str, day: date) -> str:
    digest = hashlib.sha256(f"{seed}:fx:{currency}:{day}".encode()).digest()
    wobble = (int.from_bytes(digest[:4], "big") / 2**32 - 0.5) * 0.04
    places = 2 if CENTRES[currency] > 50 else 4
    return f"{CENTRES[currency] * (1 + wobble):.{places}f}"


def ecb_history(seed: int, last: date, days: int = 400) -> str:
    """The file's text for the ``days`` calendar days up to ``last`` (working days only)."""
    currencies = sorted(CENTRES)
    lines = ["Date," + ",".join(currencies) + ","]
    for back in range(days):
        day = last - timedelta(days=back)
        if day.weekday() >= 5:
            continue
        values = [
            _rate(seed, c, day) if not (c == "BRL" and back > 300) else "N/A" for c in currencies
        ]
        lines.append(f"{day.isoformat()}," + ",".join(values) + ",")
    return "\n".join(lines) + "\n"
