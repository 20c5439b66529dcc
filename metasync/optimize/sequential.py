"""Anytime-valid evidence: tests whose error rate holds however often they are looked at, for
conversion counts that vary more than Poisson from day to day and for revenue with heavy tails.

Why: the optimizer evaluates every few hours, forever. A fixed-sample test re-run at every look
acts on an ad that meets its target far more often than 5 %. Each test here is a *test
supermartingale* under its null: the chance that it ever crosses ``1 / alpha`` is at most
``alpha`` (Ville's inequality), so no number of looks inflates it.

**Cost (too few conversions for the spend).** Day ``d`` brings ``X_d`` conversions for spend
``s_d``; at the null rate ``lam0 = 1 / target`` it is due ``mu_d = s_d / target``. The model:
``X_d`` is Poisson given the day's rate, and the rate varies from day to day around the
entity's mean with coefficient of variation ``c`` (dispersion ``phi = c**2``), its left tail no
heavier than a gamma's with that mean and variation (true for the gamma, i.e. negative binomial
counts, and for lighter-left-tailed rates such as the lognormal; a test checks both). Then for
``u`` in ``[0, 1)`` and ``l = -log(1 - u)``, under every rate at or above ``lam0``::

    E exp(l (mu_d - X_d)) <= exp(mu_d (l - u) + phi mu_d**2 u**2 / 2)

(Poisson given the rate: ``E exp(-l X | rate) = exp(-u rate)``; the gamma's Laplace transform
``(1 + u phi m)**(-1 / phi)`` decreases in its mean ``m``, so the null's worst case is
``m = mu_d``, and ``-log(1 + x) / phi <= -x / phi + x**2 / (2 phi)``). So with ``M = sum mu_d``,
``N = sum X_d`` and ``Q = sum phi_d mu_d**2`` (``phi_d`` fixed before day ``d`` is read)::

    E_u = exp(u M + log(1 - u) N - Q u**2 / 2)

is a test supermartingale for each ``u``, and so is any mixture of them. :func:`cost_evidence`
mixes :data:`U_GRID` by :data:`U_WEIGHTS` (``theta = 1 - u``: costs of 1.02 to 10 x the target).
Day by day the gamma's exact transform gives more (:func:`cost_evidence_windows`, used while
a stream keeps every day): ``exp(log(1 - u) X_d + log(1 + u phi_d mu_d) / phi_d)``.
With ``Q = 0`` each term is the Poisson likelihood ratio at ``theta``; the
dispersion only adds the ``- Q u**2 / 2`` penalty. ``M``, ``N`` and ``Q`` scale with the target
as ``spend / target``, ``N`` and ``spread / target**2``, so a stream keeps target-free totals.
The guarantee needs ``phi_d`` at or above the truth:
:mod:`metasync.optimize.dispersion` estimates it with an upper margin and a floor.

**Return (revenue per unit of spend above a target ``rho0``).** Revenue is non-negative, so
``x_d = R_d / (rho0 s_d) - 1 >= -1``, and ``prod(1 + lambda_d x_d)`` with ``lambda_d`` in
``[0, 1)`` fixed before day ``d`` is a test supermartingale whenever ``E[R_d] <= rho0 s_d``
(Waudby-Smith & Ramdas, "Estimating means of bounded random variables by betting", JRSS-B
2023): no assumption on the order values' tails. :func:`betting_wealth` mixes fixed stakes.

Trade-off: the guarantees cost time at a fixed sample (the threshold ``log 40 = 3.7`` for the
since-start test is above a fixed test's) and a wrong dispersion (below the truth) breaks the
cost test's bound; ``bench/optimizer_validity.py`` measures both sides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq
from scipy.stats import norm

__all__ = [
    "STAKES",
    "U_GRID",
    "U_WEIGHTS",
    "betting_wealth",
    "cost_evidence",
    "cost_evidence_windows",
    "cost_floor",
    "cost_floor_days",
    "detection_power",
    "needed_per_day",
    "threshold",
]

# u = 1 - rate / null rate, every 0.02 from 0.02 to 0.9 (costs of 1.02 to 10 x the target): a
# grid fine enough that neighbouring terms sum like a continuous mixture (the evidence of a
# few weeks peaks over a range of u about 0.1 wide), so the mixture costs little more than
# the weight near the best u; the small u serve large volumes and high variation, where the
# variation's term outgrows the count's
U_GRID = np.linspace(0.02, 0.9, 45)
# the mixing weights: 85 % a normal bump on u = 0.35 (sd 0.2), most on costs of 1.2-2.5 x the
# target, where a rule's decisions matter and the days are fewest; 15 % on u = 0.86-0.9, so an
# ad without conversions is caught as soon as with the coarse grid before (at 5.4 conversions
# due, where the bump alone needs 6.9)
_BUMP = np.exp(-(((U_GRID - 0.35) / 0.2) ** 2) / 2)
_TOP = (U_GRID >= 0.85).astype(float)
U_WEIGHTS = 0.85 * _BUMP / _BUMP.sum() + 0.15 * _TOP / _TOP.sum()
_LOG_WEIGHTS = np.log(U_WEIGHTS)
_LOG_KEEP = np.log1p(-U_GRID)  # log theta: the share of the null's rate each term bets on
STAKES = np.array([0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])  # bettors' shares


def _log_sum_exp(terms: NDArray[Any]) -> NDArray[Any]:
    """``log(sum(exp(terms)))`` over the last axis, without overflow."""
    top = terms.max(axis=-1, keepdims=True)
    return np.asarray(np.log(np.exp(terms - top).sum(axis=-1)) + top[..., 0])


def threshold(alpha: float) -> float:
    """``log(1 / alpha)``: the log e-value a decision must reach."""
    if not 0 < alpha < 1 or not math.isfinite(alpha):
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    return -math.log(alpha)


def cost_evidence(expected: ArrayLike, observed: ArrayLike, spread: ArrayLike) -> NDArray[Any]:
    """The log of the mixture supermartingale against "cost at or below the target":
    ``expected`` conversions due at the target (``M``), ``observed`` counted (``N``) and
    ``spread`` the dispersion term ``Q`` (conversions squared). Arrays broadcast."""
    m, n, q = (np.asarray(v, dtype=float)[..., None] for v in (expected, observed, spread))
    if np.any(m < 0) or np.any(n < 0) or np.any(q < 0):
        raise ValueError("expected, observed and spread must be >= 0")
    return _log_sum_exp(_LOG_WEIGHTS + U_GRID * m + _LOG_KEEP * n - q * U_GRID**2 / 2)


def _gamma_terms(due: NDArray[Any], dispersion: NDArray[Any]) -> NDArray[Any]:
    """``log(1 + u phi mu) / phi`` per day (rows) and ``u`` (columns): the exact log Laplace
    transform of a gamma rate with mean ``mu`` and dispersion ``phi`` at ``u`` (``u mu`` at
    ``phi = 0``); at least the quadratic bound ``u mu - phi mu**2 u**2 / 2`` of the totals."""
    mu, phi = due[:, None], dispersion[:, None]
    x = U_GRID[None, :] * mu
    safe = np.where(phi > 0, phi, 1.0)
    return np.asarray(np.where(phi > 0, np.log1p(x * safe) / safe, x))


def cost_evidence_windows(
    due: ArrayLike, observed: ArrayLike, dispersion: ArrayLike
) -> NDArray[Any]:
    """The log mixture evidence of each window from day ``i`` to the last of the days given
    (``due`` conversions at the target, ``observed`` counted, ``dispersion`` ``phi_d`` fixed
    before each day; oldest first), one value per start day.

    Day by day, each term is ``exp(log(1 - u) X_d + log(1 + u phi_d mu_d) / phi_d)``: the gamma
    rate's exact Laplace transform where :func:`cost_evidence` uses its quadratic bound, so its
    expectation under the null is at most 1 under the same assumption (the rate's left tail no
    heavier than the gamma's) and it is never smaller than the totals' evidence. At high
    variation the bound's ``u**2`` penalty is far above the exact term (at 50 % variation and
    10 conversions a day, the evidence of a 2 x cost over 13 days is about 6 nats against 4.5),
    which is where it matters; it needs each day, so a stream applies it while it keeps every
    day (:attr:`metasync.optimize.stream.Stream.whole`) and falls back to the totals after
    (a smaller process than a supermartingale keeps the bound)."""
    mu = np.asarray(due, dtype=float)
    x = np.asarray(observed, dtype=float)
    phi = np.asarray(dispersion, dtype=float)
    if mu.size == 0:
        return np.zeros(0)
    if np.any(mu < 0) or np.any(x < 0) or np.any(phi < 0):
        raise ValueError("due, observed and dispersion must be >= 0")
    days = _LOG_KEEP[None, :] * x[:, None] + _gamma_terms(mu, phi)
    windows = np.cumsum(days[::-1], axis=0)[::-1]  # each start day through the last
    return _log_sum_exp(_LOG_WEIGHTS + windows)


def cost_floor_days(
    spend: ArrayLike, observed: ArrayLike, dispersion: ArrayLike, alpha: float
) -> float:
    """:func:`cost_floor` of the window of the days given (oldest first), by the day-by-day
    evidence of :func:`cost_evidence_windows`."""
    spends = np.asarray(spend, dtype=float)
    counts = np.asarray(observed, dtype=float)
    phis = np.asarray(dispersion, dtype=float)
    limit = threshold(alpha)

    def excess(log_cost: float) -> float:
        cost = math.exp(log_cost)
        return float(cost_evidence_windows(spends / cost, counts, phis)[0]) - limit

    top = math.log(max(float(spends.sum()), 1e-9) / max(float(counts.sum()), 0.5))
    bottom = top - 1.0
    while excess(bottom) < 0:
        bottom -= 1.0
        if bottom < top - 30:
            return 0.0
    if excess(top) >= 0:
        return math.exp(top)
    return math.exp(float(brentq(excess, bottom, top)))


def cost_floor(spend: float, observed: int, spread: float, alpha: float) -> float:
    """The anytime lower bound of the cost per conversion: the largest cost ``c`` whose null
    (a rate of ``1 / c`` or more) the evidence rejects at ``alpha`` (0: none). ``spread`` in
    money squared (``sum phi_d s_d**2``)."""
    limit = threshold(alpha)

    def excess(log_cost: float) -> float:
        cost = math.exp(log_cost)
        return float(cost_evidence(spend / cost, observed, spread / cost**2)) - limit

    top = math.log(spend / max(observed, 0.5))  # at cost = spend / N nothing is rejected
    bottom = top - 1.0
    while excess(bottom) < 0:
        bottom -= 1.0
        if bottom < top - 30:
            return 0.0
    return math.exp(float(brentq(excess, bottom, top)))


def betting_wealth(gains: NDArray[Any], weights: Sequence[float] | None = None) -> NDArray[Any]:
    """The log wealth of betting on each row of ``gains`` (``x_d >= -1`` per day, last axis):
    the average of the bettors that stake a fixed share ``lam`` of :data:`STAKES` on each day,
    scaled by the day's weight over the largest weight so far (``weights``: the day's spend, so
    a small day stakes less). Each bettor's wealth ``prod(1 + lam w_d x_d)`` is a test
    supermartingale when every day's mean of ``x`` is at most 0, and so is their average; a
    mixture needs no warm-up and no estimate of the spread (Waudby-Smith & Ramdas, 2023,
    section 5)."""
    gains = np.asarray(gains, dtype=float)
    days = gains.shape[-1]
    raw = np.ones(days) if weights is None else np.asarray(weights, dtype=float)
    scale = raw / np.maximum.accumulate(np.maximum(raw, 1e-12))
    terms = np.log1p(STAKES * (scale * gains)[..., None])  # (..., days, stakes)
    return _log_sum_exp(terms.sum(axis=-2)) - math.log(STAKES.size)


def detection_power(
    per_day: float, dispersion: float, days: int, alpha: float, multiple: float = 2.0
) -> float:
    """The chance that a cost of ``multiple`` x the target is caught by
    :func:`cost_evidence_windows` at ``alpha`` after ``days`` matured days of ``per_day``
    conversions due at the target (normal approximation of the count; ``dispersion`` the
    entity's ``phi``)."""
    if days <= 0 or per_day <= 0:
        return 0.0
    due = per_day * days
    gamma = days * _gamma_terms(np.array([per_day]), np.array([dispersion]))[0]
    limit = threshold(alpha)

    def excess(count: float) -> float:  # the day-by-day evidence of identical days
        return float(_log_sum_exp(_LOG_WEIGHTS + _LOG_KEEP * count + gamma)) - limit

    if excess(0.0) < 0:
        return 0.0
    critical = float(brentq(excess, 0.0, due)) if excess(due) < 0 else due
    mean = due / multiple
    variance = days * (per_day / multiple + dispersion * (per_day / multiple) ** 2)
    return float(norm.cdf((critical + 0.5 - mean) / math.sqrt(variance)))


@lru_cache(maxsize=4096)
def needed_per_day(
    dispersion: float, days: int, alpha: float, power: float = 0.8, multiple: float = 2.0
) -> float | None:
    """The fewest conversions a day due at the target for which a cost of ``multiple`` x the
    target is caught within ``days`` matured days with chance ``power``; None when no volume
    is enough (the day-to-day variation, not the count, then limits what ``days`` can show)."""
    if days <= 0:
        return None
    per_day = np.geomspace(0.05, 5_000.0, 161)  # not monotone far out: scan upward
    due = per_day * days
    gamma = days * _gamma_terms(per_day, np.full(per_day.size, dispersion))  # (volumes, u)
    limit = threshold(alpha)

    def excess(count: NDArray[Any]) -> NDArray[Any]:
        return _log_sum_exp(_LOG_WEIGHTS + _LOG_KEEP * count[:, None] + gamma) - limit

    # the critical count of every volume at once (bisection: the evidence falls as it grows)
    low, high = np.zeros_like(due), due.copy()
    for _ in range(60):
        middle = (low + high) / 2
        above = excess(middle) >= 0
        low, high = np.where(above, middle, low), np.where(above, high, middle)
    critical = np.where(excess(due) >= 0, due, low)
    mean = due / multiple
    variance = days * (per_day / multiple + dispersion * (per_day / multiple) ** 2)
    powers = np.where(
        excess(np.zeros_like(due)) >= 0, norm.cdf((critical + 0.5 - mean) / np.sqrt(variance)), 0.0
    )
    enough = np.flatnonzero(powers >= power)
    return round(float(per_day[enough[0]]), 2) if enough.size else None
