"""Fixed-sample intervals for a Poisson count, and :class:`Bound`, the shape decisions report
their intervals in.

The rules no longer decide by these intervals: re-run at every evaluation they act on entities
that meet their target far more often than ``1 - confidence`` (the anytime-valid evidence that
replaced them is :mod:`metasync.optimize.sequential`). They stay as the comparison
``bench/optimizer_validity.py`` draws ("the test before") and as a single-look description.

Conversions of an ad over a span are modelled as a Poisson count with unknown rate; the exact
(Garwood) interval on a count ``c`` at confidence ``1 - alpha`` is

    lower = chi2.ppf(alpha / 2, 2c) / 2            (0 when c = 0)
    upper = chi2.ppf(1 - alpha / 2, 2c + 2) / 2

From it, for spend ``S`` (account currency, major units) and conversion value ``V``:

- cost per conversion ``S / c`` has the interval ``[S / upper, S / lower]``;
- return on ad spend ``V / S`` scales with the count at a fixed value per conversion
  (``V / c``), so its interval is ``[lower * (V / c) / S, upper * (V / c) / S]``.

Each covers at least ``1 - alpha`` at one look, and no more than that over many.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import chi2

__all__ = ["Bound", "conversion_bounds", "cost_per_conversion", "return_on_spend"]

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Bound:
    """A point estimate and its two-sided interval at ``confidence`` (None: undefined)."""

    estimate: float | None
    low: float
    high: float
    confidence: float

    def above(self, target: float) -> bool:
        """The whole interval lies above ``target``."""
        return self.low > target

    def below(self, target: float) -> bool:
        """The whole interval lies below ``target``."""
        return self.high < target


def conversion_bounds(count: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """The exact Poisson interval ``(lower, upper)`` of the rate behind ``count`` events."""
    if count < 0:
        raise ValueError(f"a conversion count cannot be negative: {count}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    alpha = 1 - confidence
    lower = 0.0 if count == 0 else float(chi2.ppf(alpha / 2, 2 * count)) / 2
    upper = float(chi2.ppf(1 - alpha / 2, 2 * count + 2)) / 2
    return lower, upper


def cost_per_conversion(
    spend: float, conversions: int, confidence: float = DEFAULT_CONFIDENCE
) -> Bound:
    """Cost per conversion (spend's units per conversion) with its interval; with no
    conversions the estimate is None and the upper end infinite."""
    lower, upper = conversion_bounds(conversions, confidence)
    estimate = spend / conversions if conversions else None
    high = spend / lower if lower > 0 else float("inf")
    return Bound(estimate, spend / upper, high, confidence)


def return_on_spend(
    spend: float, value: float, conversions: int, confidence: float = DEFAULT_CONFIDENCE
) -> Bound:
    """Conversion value per unit of spend with its interval (value per conversion held fixed);
    no spend or no conversions: an estimate of None and the interval [0, 0]."""
    if spend <= 0 or conversions == 0:
        return Bound(None, 0.0, 0.0, confidence)
    lower, upper = conversion_bounds(conversions, confidence)
    per_conversion = value / conversions
    return Bound(
        value / spend, lower * per_conversion / spend, upper * per_conversion / spend, confidence
    )
