"""When a day's conversions are complete enough to judge on: learned from the account's own reads.

**What is learned.** Meta reports a conversion on the day of the click or view that led to it,
and late: within the ad set's attribution window (a 7-day-click conversion can come 7 days
after the click) and after it, by processing delay (Conversions API events may be sent up to 7
days after they happened, offline ones later). The sync reads each day many times (the recent
re-reads several times a day, the long re-read once a day up to 28 days back) and records, per
account and day, the conversions each read saw by its age (local days after the day:
:class:`~metasync.models.ConversionArrivals`, written by :mod:`metasync.sync.write.arrivals`). From
the days old enough to be final (read at age ``FINAL_AGE`` = 28 or later) the **arrival
profile** is ``share[a]``: of those days' final conversions, the share already visible to a
read at age ``a`` (conversion-weighted over the days, from the account-level rows).

**The rule.** A day enters a matured stream (:mod:`metasync.optimize.stream`) when it is read at
age ``maturity + 1`` or later (``day + maturity <= newest complete day``, and a long re-read
that still held the day started since: :mod:`metasync.optimize.reread`). ``maturity`` is the
smallest number of days, never shorter than the attribution window, whose read misses at most
``TOLERANCE`` (2 %) of the day's final conversions: ``1 - share[maturity + 1] <= TOLERANCE``.
A missing share that small biases a cost-per-conversion test by at most ~2 % toward pausing,
well inside the margin between a rule's target and the change it is built to catch.

**Until the account has history** (``MIN_FINAL_DAYS`` final days holding ``MIN_CONVERSIONS``
conversions, i.e. at least 28 + 14 days of syncing), the conservative default is the longer of
the attribution window and ``DEFAULT_LAG_DAYS`` (7): events sent through the Conversions API may
be dated up to 7 days back, so a 1-day-click ad set's day is taken as complete after 7 days, not 1.

**Assumptions and trade-offs.**

- Conversions visible to a read only grow with its age (Meta restates days upward); between two
  reads a day's count is taken as the earlier read's, so an age no read saw reads low and the
  learned maturity errs long (later decisions, not wrong ones). The profile is made
  non-decreasing from the right (``share[a]`` is at most every later share), erring the same way.
- One profile per account, from its account-level rows (``account`` must be among
  ``META_INSIGHTS_LEVELS``; otherwise the default holds). An account mixing 1-day and 7-day-click
  ad sets gets one profile for both: the 1-day ad sets wait as long as the whole account's
  conversions take, which errs long again; the attribution window floor keeps the 7-day ones
  from maturing inside their window.
- The lag is taken as stationary over the ``HISTORY_DAYS`` (90) final days learned from.
- A maturity is at most ``reach - 1`` days, ``reach`` being the days the long re-read reaches
  back (``META_INSIGHTS_LOOKBACK_DAYS``, 28 by default; the evaluation passes it): a day
  older than the re-read's range is never read again, so waiting longer would read nothing new
  (the day would only be skipped). A 28-day-click window (no longer offered by Meta) is
  therefore judged after 27 days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from metasync.models.arrivals import FINAL_AGE

__all__ = [
    "DEFAULT_LAG_DAYS",
    "FINAL_AGE",
    "HISTORY_DAYS",
    "MIN_CONVERSIONS",
    "MIN_FINAL_DAYS",
    "TOLERANCE",
    "ArrivalProfile",
    "learn_profile",
    "learned_maturity",
]

TOLERANCE = 0.02  # the share of a day's final conversions a matured day may still miss
DEFAULT_LAG_DAYS = 7  # days: the Conversions API takes events dated up to 7 days back
MIN_FINAL_DAYS = 14  # final days an account needs before its profile is used
MIN_CONVERSIONS = 200  # final conversions those days need to hold (the shares' noise ~1/sqrt)
HISTORY_DAYS = 90  # final days learned from (the newest ones)


@dataclass(frozen=True)
class ArrivalProfile:
    """``shares[a]``: the share of a final day's conversions visible to a read ``a`` local days
    after the day (``a`` = 0 .. ``FINAL_AGE``; ``shares[FINAL_AGE]`` = 1), learned from ``days``
    final days holding ``conversions`` conversions."""

    shares: tuple[float, ...]
    days: int
    conversions: float

    @property
    def trusted(self) -> bool:
        """Learned from enough history to replace the default."""
        return self.days >= MIN_FINAL_DAYS and self.conversions >= MIN_CONVERSIONS

    def missing(self, age: int) -> float:
        """The expected share of a day's final conversions a read at ``age`` does not see."""
        return 1.0 - self.shares[min(max(age, 0), FINAL_AGE)]


def _seen_at(seen: Mapping[int, float], age: int) -> float | None:
    """The count the latest read at ``age`` or younger saw (None: no read that young)."""
    younger = [a for a in seen if a <= age]
    return seen[max(younger)] if younger else None


def learn_profile(days: Iterable[Mapping[int, float]]) -> ArrivalProfile | None:
    """The arrival profile of an account's days (each: read age in days -> conversions seen),
    from those read at ``FINAL_AGE`` or later; None when none is final or none converted.

    For each age, only days read at that age or younger count (a day first read at age 9, by
    the account's first sync, says nothing of ages 0 .. 8)."""
    final = [d for d in days if d and max(d) >= FINAL_AGE and d[max(d)] > 0]
    if not final:
        return None
    shares = []
    for age in range(FINAL_AGE + 1):
        visible = total = 0.0
        for seen in final:
            count = _seen_at(seen, age)
            if count is not None:
                visible += min(count, seen[max(seen)])
                total += seen[max(seen)]
        shares.append(visible / total if total else 0.0)
    shares[FINAL_AGE] = 1.0
    for age in range(FINAL_AGE - 1, -1, -1):  # never above a later share: errs toward waiting
        shares[age] = min(shares[age], shares[age + 1])
    return ArrivalProfile(tuple(shares), len(final), float(sum(seen[max(seen)] for seen in final)))


def learned_maturity(
    window_days: int,
    profile: ArrivalProfile | None,
    reach: int = FINAL_AGE,
    tolerance: float = TOLERANCE,
) -> int:
    """Days after which a day is mature: the smallest ``m >= window_days`` whose read at age
    ``m + 1`` misses at most ``tolerance`` of the day's conversions by ``profile``; the longer of
    the window and ``DEFAULT_LAG_DAYS`` while the profile is missing or not ``trusted``. At most
    ``reach - 1`` (``reach``: the long re-read's days back) and at least 1."""
    longest = max(reach - 1, 1)
    if profile is None or not profile.trusted:
        return min(max(window_days, DEFAULT_LAG_DAYS), longest)
    maturity = max(window_days, 1)
    while maturity < longest and profile.missing(maturity + 1) > tolerance:
        maturity += 1
    return min(maturity, longest)
