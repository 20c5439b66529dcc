"""Anytime-valid evidence: tests and intervals for a Poisson conversion rate that keep their
error rate however often they are looked at.

Why: the optimizer evaluates every few hours, forever. A fixed-sample test (a 95 % interval on
the last 7 days) re-run at every look acts on an ad that meets its target far more often than 5 %
(half of them within 90 days of daily looks). Here each entity's matured days since a fixed
start form one growing sample (:class:`metasync.optimize.stream.Stream`), and the evidence is
a *test martingale*, whose chance of ever crossing ``1 / alpha`` is at most ``alpha`` (Ville's
inequality), so no number of looks inflates it.

The model: conversions of an entity over spend ``S`` (account currency) are Poisson with rate
``lam`` per unit of spend. Against a null rate ``lam0`` (the rate at which the cost per
conversion equals the target), write ``mu = lam0 * S`` (the conversions expected at the null)
and ``N`` the conversions counted. For an alternative ``theta = lam / lam0`` the likelihood
ratio is ``theta**N * exp((1 - theta) * mu)``; mixing it over ``theta ~ Gamma(a, a)`` (mean 1,
shape ``a`` = :data:`PRIOR_SHAPE`) gives the closed form (Robbins' method of mixtures; the
conjugate Poisson-gamma mixture, e.g. Howard, Ramdas, McAuliffe, Sekhon, "Time-uniform,
nonparametric, nonasymptotic confidence sequences", Ann. Statist. 2021)::

    log M(mu, N) = mu + a log a - lgamma(a) + lgamma(N + a) - (N + a) log(mu + a)
                   [+ log P(N + a, mu + a) - log P(a, a)]    one-sided, theta < 1
                   [+ log Q(N + a, mu + a) - log Q(a, a)]    one-sided, theta > 1

with ``P``/``Q`` the regularized lower/upper incomplete gamma functions (the prior truncated to
one side, renormalized). The one-sided forms are supermartingales under every rate on the null's
side (``lam >= lam0`` for "too expensive", ``lam <= lam0`` for "profitable"), so they test the
composite nulls the rules need. A decision needs ``log M >= log(1 / alpha)``.

Inverting the two-sided form gives a *confidence sequence* for the rate (the ``mu`` with
``log M < log(1 / alpha)``): an interval that holds at every look at once with probability at
least ``1 - alpha``; reallocation uses it for each of ``k`` ad sets at ``alpha / k``.

Trade-off: the guarantee costs power at a fixed sample (the threshold ``log 20 = 3.0`` is above
a fixed test's), and ``PRIOR_SHAPE`` tunes the mixture to effects of about ``1 / sqrt(a)``
(4: a cost about 1.5-2 x the target is found soonest); ``bench/optimizer_validity.py`` measures
both sides.
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy.optimize import brentq
from scipy.special import gammainc, gammaincc, gammaln

__all__ = [
    "PRIOR_SHAPE",
    "log_evidence",
    "null_bound",
    "rate_interval",
    "threshold",
]

PRIOR_SHAPE = 4.0  # a: the mixing prior Gamma(a, a) on theta = rate / null rate


def threshold(alpha: float) -> float:
    """``log(1 / alpha)``: the log e-value a decision must reach."""
    if not 0 < alpha < 1 or not math.isfinite(alpha):
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    return -math.log(alpha)


def _safe_log(value: float) -> float:
    return math.log(value) if value > 0 else -math.inf


def log_evidence(
    expected: float, observed: int, side: str = "below", a: float = PRIOR_SHAPE
) -> float:
    """The log of the mixture martingale for ``observed`` conversions where ``expected`` were
    due at the null rate. ``side``: ``below`` (evidence the rate is below the null: a cost
    above target), ``above`` (a rate above it: a return above target) or ``both``."""
    if observed < 0 or expected < 0 or not math.isfinite(expected):
        raise ValueError(f"need a finite expected >= 0 and observed >= 0: {expected}, {observed}")
    n = observed + a
    value = (
        expected
        + a * math.log(a)
        - float(gammaln(a))
        + float(gammaln(n))
        - n * math.log(expected + a)
    )
    if side == "below":
        return value + _safe_log(float(gammainc(n, expected + a))) - math.log(gammainc(a, a))
    if side == "above":
        return value + _safe_log(float(gammaincc(n, expected + a))) - math.log(gammaincc(a, a))
    if side == "both":
        return value
    raise ValueError(f"side must be below, above or both, not {side!r}")


@lru_cache(maxsize=65_536)  # counts repeat across entities and looks: each is solved once
def rate_interval(observed: int, alpha: float, a: float = PRIOR_SHAPE) -> tuple[float, float]:
    """The confidence sequence for the expected count: ``(low, high)`` such that, at every look
    at once, the true expected count (rate x spend) lies inside with probability ``1 - alpha``.
    Divide by the spend for the rate; a cost per conversion's interval is ``spend / high`` to
    ``spend / low`` (``low`` 0: no upper end)."""
    limit = threshold(alpha)

    def excess(mu: float) -> float:
        return log_evidence(mu, observed, "both", a) - limit

    centre = float(observed)  # the two-sided form is convex in mu, smallest at mu = observed
    low = 0.0 if excess(0.0) < 0 else float(brentq(excess, 0.0, centre))
    top = max(2.0 * centre, 10.0)
    while excess(top) < 0:
        top *= 2
    return low, float(brentq(excess, centre, top))


@lru_cache(maxsize=65_536)
def null_bound(observed: int, alpha: float, side: str, a: float = PRIOR_SHAPE) -> float:
    """The expected count at which the one-sided evidence of ``observed`` just reaches the
    threshold: for ``below``, every null expecting more than this is rejected (a cost per
    conversion's anytime lower bound is ``spend / bound``); for ``above``, every null expecting
    fewer (a rate's anytime lower bound is ``bound / spend``; 0: none rejected)."""
    limit = threshold(alpha)

    def excess(mu: float) -> float:
        return log_evidence(mu, observed, side, a) - limit

    if side == "above":
        return 0.0 if excess(0.0) < 0 else float(brentq(excess, 0.0, float(observed) + 1.0))
    top = max(2.0 * observed, 10.0)
    while excess(top) < 0:
        top *= 2
    return float(brentq(excess, 0.0, top))  # no evidence at mu = 0: excess(0) < 0
