"""How much an account's daily conversion counts vary beyond Poisson, and streams that carry it.

The cost test (:mod:`metasync.optimize.sequential`) needs each day's dispersion ``phi`` (the
squared coefficient of variation of the day's conversion rate around the entity's mean: a count
has variance ``mu + phi mu**2``) fixed *before* the day is read, and at or above the truth.

**Estimate** (:func:`estimate_dispersion`): pooled over the entities of one account and level,
from pairs of consecutive days of each entity within :data:`WINDOW_DAYS` before the day. For
spends ``s1, s2`` and counts ``X1, X2`` at one rate ``r``, ``D = X2 s1 - X1 s2`` has mean 0 and
``E[D**2 - s1**2 X2 - s2**2 X1] = 2 phi r**2 s1**2 s2**2 = phi E[2 s1 s2 X1 X2]``, so the ratio
of the sums (each pair divided by ``s1 s2``) estimates ``phi`` without a model of the rate: each
entity is compared with itself a day apart, so a rate that steps once (an ad got worse) adds one
pair's worth, not a whole window's. **Upper margin**: ``+ 1`` standard error (clustered by
entity, by pair below :data:`MIN_ENTITIES` entities), and a floor :data:`FLOOR` (a coefficient
of variation of 10 %). One standard error, not two: the estimate is unbiased, and the early
days' estimates stay in a stream's since-start test for its whole life, so a wide margin on
them costs power for good while the measured false-pause rate is already far below alpha
(``bench/optimizer_validity.py``: 0 % at 25-100 % variation with one).

With fewer than :data:`MIN_PAIRS` pairs there is no estimate of the account's own: an account
with too few pairs (one with a single ad, or a new one) borrows the estimate pooled over the
tenant's accounts, and where the tenant has none either (its first day or two) the day takes
the **prior** :data:`PRIOR` (25 % day-to-day variation), so a stream starts on its first
matured day (:func:`account_sources`). The prior is an assumption, stated with the guarantee:
a larger one would weigh on the stream's whole life (its early days' dispersion never leaves
the since-start test) and cost more than the days it adds (a 2 x ad at 5 conversions a day:
two days add about 1.5 nats of evidence, a prior of 25 % costs 0.4, one of 50 % 1.6). A
source without a prior (:func:`dispersion_source` with ``prior=None``) leaves such days out of
the stream (:func:`advance_stream`).

Trade-off: the margin costs power early in an account's life, the price of the cost test's
guarantee holding where ``phi`` is known only roughly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise

from metasync.optimize.stream import DayRow, Stream, next_stream

__all__ = [
    "FLOOR",
    "PRIOR",
    "account_sources",
    "advance_stream",
    "dispersion_source",
    "estimate_dispersion",
]

FLOOR = 0.01  # the least phi used: 10 % day-to-day variation
WINDOW_DAYS = 28  # days before the day read that the estimate pools
MIN_PAIRS = 10
MIN_ENTITIES = 5
MARGIN = 1.0  # standard errors added to the estimate
# phi of the days before any estimate (a new tenant's first day or two): a 25 % day-to-day
# variation, what most accounts' estimates come to (the assumption the guarantee states for them)
PRIOR = 0.0625


def _pair_terms(rows: Sequence[DayRow]) -> tuple[float, float, int]:
    """One entity's summed numerator and denominator over its consecutive-day pairs."""
    top = bottom = 0.0
    pairs = 0
    for one, two in pairwise(rows):
        if one.spend <= 0 or two.spend <= 0:
            continue
        s1, s2, x1, x2 = one.spend, two.spend, one.conversions, two.conversions
        difference = x2 * s1 - x1 * s2
        top += (difference**2 - s1**2 * x2 - s2**2 * x1) / (s1 * s2)
        bottom += 2.0 * x1 * x2
        pairs += 1
    return top, bottom, pairs


def estimate_dispersion(entities: Iterable[Sequence[DayRow]], before: str) -> float | None:
    """The account's ``phi`` for day ``before`` (ISO): pooled over ``entities`` (each one's rows,
    oldest first) on the :data:`WINDOW_DAYS` days before it, with its upper margin; None with
    too few pairs of days to tell."""
    first = (date.fromisoformat(before) - timedelta(days=WINDOW_DAYS)).isoformat()
    terms = []
    for rows in entities:
        window = [r for r in rows if first <= r.date < before]
        top, bottom, pairs = _pair_terms(window)
        if pairs:
            terms.append((top, bottom, pairs))
    pairs = sum(t[2] for t in terms)
    denominator = sum(t[1] for t in terms)
    if pairs < MIN_PAIRS or denominator <= 0:
        return None
    estimate = sum(t[0] for t in terms) / denominator
    residual = sum((t[0] - estimate * t[1]) ** 2 for t in terms)
    if len(terms) < MIN_ENTITIES:  # too few clusters: treat the pairs as the units
        residual *= max(1.0, pairs / max(len(terms), 1))
    upper = estimate + MARGIN * math.sqrt(residual) / denominator
    return max(FLOOR, upper) if math.isfinite(upper) else None


def dispersion_source(
    entities: Sequence[Sequence[DayRow]], prior: float | None = None
) -> Callable[[str], float | None]:
    """:func:`estimate_dispersion` over ``entities`` for any day, each day computed once;
    ``prior`` (:data:`PRIOR`, or None: the day is left out) where there is no estimate."""

    @lru_cache(maxsize=256)
    def of(day: str) -> float | None:
        found = estimate_dispersion(entities, day)
        return prior if found is None else found

    return of


def account_sources(
    keyed: Iterable[tuple[str, str, Sequence[DayRow]]],
) -> dict[tuple[str, str], Callable[[str], float | None]]:
    """A dispersion source per ``(account, level)`` from ``(account, level, rows)`` of each
    entity: the account's own estimate, else (too few pairs in it, as for an account with one
    ad or a new one) the estimate pooled over all the accounts given at that level, else (a
    new tenant's first days) :data:`PRIOR`."""
    by_account: dict[tuple[str, str], list[Sequence[DayRow]]] = {}
    by_level: dict[str, list[Sequence[DayRow]]] = {}
    for account, level, rows in keyed:
        by_account.setdefault((account, level), []).append(rows)
        by_level.setdefault(level, []).append(rows)
    pooled = {level: dispersion_source(entities, PRIOR) for level, entities in by_level.items()}

    def either(
        own: Callable[[str], float | None], wide: Callable[[str], float | None]
    ) -> Callable[[str], float | None]:
        def of(day: str) -> float | None:
            found = own(day)
            return found if found is not None else wide(day)

        return of

    return {
        key: either(dispersion_source(entities), pooled[key[1]])
        for key, entities in by_account.items()
    }


def advance_stream(
    current: Stream | None,
    rows: Sequence[DayRow],
    through: date,
    dispersion_of: Callable[[str], float | None],
    changed_on: date | None = None,
) -> Stream | None:
    """:func:`metasync.optimize.stream.next_stream`, with each added day's dispersion
    (``dispersion_of(day)``, estimated from the days before it) recorded in the stream; a day
    without an estimate is left out (which depends on how many rows the account had, not on
    what they held, so the tests keep their bounds)."""
    keeps = current is not None and (changed_on is None or current.start > changed_on.isoformat())
    if keeps and current is not None:
        after = current.through or ""
    else:
        after = changed_on.isoformat() if changed_on is not None else ""
    known = {r.date: dispersion_of(r.date) for r in rows if after < r.date <= through.isoformat()}
    usable = [r for r in rows if known.get(r.date) is not None]
    stream = next_stream(current, usable, through, changed_on)
    if stream is None or stream == current:
        return stream
    first = after if keeps else ""
    last = stream.through or ""
    added = [r for r in usable if stream.start <= r.date <= last and r.date > first]
    return stream.record(added, [known[r.date] or 0.0 for r in added])
