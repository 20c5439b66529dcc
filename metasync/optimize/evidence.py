"""The statistics behind the optimizer's decisions: when is a cost or a return *significantly*
beyond a target, not just by the luck of a few conversions.

Conversions of an ad over a span are modelled as a Poisson count with unknown rate; the exact
(Garwood) interval on a count ``c`` at confidence ``1 - alpha`` is

    lower = chi2.ppf(alpha / 2, 2c) / 2            (0 when c = 0)
    upper = chi2.ppf(1 - alpha / 2, 2c + 2) / 2

From it, for spend ``S`` (account currency, major units) and conversion value ``V``:

- cost per conversion ``S / c`` has the interval ``[S / upper, S / lower]``; an ad is
  *significantly too expensive* when even the optimistic end ``S / upper`` is above the target.
  With no conversions at all this still decides: ``S / upper(0) = S / 3.69`` at 95 %, so an ad
  is paused only after spending about 3.7 times the target without one conversion.
- return on ad spend ``V / S`` scales with the count at a fixed value per conversion
  (``V / c``), so its interval is ``[lower * (V / c) / S, upper * (V / c) / S]``; an ad set is
  *significantly profitable* when the pessimistic end is above the target.

The trade-off: the exact interval is conservative (it covers at least ``1 - alpha``), so with
few conversions metasync waits longer than a point estimate would; a 2-conversion ad is never
paused on cost unless it spent more than ``upper(2) = 7.2`` times the target.
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
