"""An entity's matured days since a fixed start: the one growing sample a sequential test reads.

**Matured days only.** Meta attributes a conversion to the day of the click (or view) that led
to it, and keeps adding conversions to that day for as long as the ad set's attribution window
(``attribution_spec``: 1 or 7 days of click, 1 of view): yesterday may show half of what it will.
Meta's processing adds its own delay past the window. A day enters a stream only once it is
mature (``maturity_days``: never shorter than the longest window of the spec, 7 when Meta did not
say, and as long as the account's own reporting lag needs for the day to miss at most 2 % of its
conversions, :mod:`metasync.optimize.maturity`), so the counts a decision reads are final up to
that tolerance. The cost: decisions come ``maturity_days`` later than a test on raw days would
make them (``bench/optimizer_validity.py`` and ``bench/optimizer_lag.py`` measure it).

**A fixed start.** A stream starts at the first matured day with a row the first time its
entity is evaluated, or the day after anyone last changed the entity (a changed ad is a new
hypothesis), and from then on only grows: days are added once, in order, and never re-read,
so the sequential test's guarantee (:mod:`metasync.optimize.sequential`) holds over all looks.
A stretch of days no evaluation saw (the optimizer was off) is skipped, which does not depend on
what those days held and so keeps the guarantee.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Protocol

from metasync.optimize.maturity import FINAL_AGE, ArrivalProfile, learned_maturity

__all__ = [
    "DEFAULT_MATURITY_DAYS",
    "Stream",
    "attribution_window",
    "matured_through",
    "maturity_days",
    "next_stream",
]

DEFAULT_MATURITY_DAYS = 7  # Meta's default attribution setting: 7-day click, 1-day view


class DayRow(Protocol):
    """A complete day's figures (:class:`metasync.optimize.decisions.DayFigures`)."""

    @property
    def date(self) -> str: ...
    @property
    def spend(self) -> float: ...
    @property
    def conversions(self) -> int: ...
    @property
    def revenue(self) -> float: ...


def attribution_window(attribution_spec: Iterable[dict[str, Any]] | None) -> int:
    """The longest window of an ad set's attribution spec, in days (7 when Meta did not say)."""
    windows = [int(w.get("window_days") or 0) for w in attribution_spec or []]
    return max(windows, default=0) or DEFAULT_MATURITY_DAYS


def maturity_days(
    attribution_spec: Iterable[dict[str, Any]] | None,
    profile: ArrivalProfile | None = None,
    reach: int = FINAL_AGE,
) -> int:
    """Days after which a day's conversions are complete enough to judge on: learned from the
    account's arrival ``profile`` and never shorter than the attribution window; without a
    trusted profile the conservative default (:func:`metasync.optimize.maturity.learned_maturity`;
    ``reach``: the long re-read's days back)."""
    return learned_maturity(attribution_window(attribution_spec), profile, reach)


def matured_through(newest_complete: date, maturity: int) -> date:
    """The newest mature day, given the newest complete day: a day whose read at age
    ``maturity + 1`` (local days after it) or later is in the rows."""
    return newest_complete - timedelta(days=maturity)


KEPT_DAYS = 120  # days of rows a stream keeps for the change and betting tests


@dataclass(frozen=True)
class Stream:
    """Totals of the matured days ``start`` .. ``through`` (ISO dates; ``through`` None: none
    yet). Money in the account's currency, major units."""

    start: str
    through: str | None = None
    spend: float = 0.0
    conversions: int = 0
    revenue: float = 0.0
    days: int = 0  # days with a row
    # sum of phi_d x spend_d**2 over its days (money squared): the cost test's dispersion term
    spread: float = 0.0
    # its newest KEPT_DAYS days as (date, spend, conversions, revenue, phi), oldest first: the
    # windows the change test restarts from and the days the betting tests read
    recent: tuple[tuple[str, float, int, float, float], ...] = ()

    def record(self, added: Sequence[DayRow], dispersion: Sequence[float]) -> Stream:
        """This stream with ``spread`` and ``recent`` updated for the rows ``extend`` just
        ``added`` (oldest first), each with its ``dispersion`` fixed before the day was read."""
        kept = list(self.recent)
        spread = self.spread
        for row, phi in zip(added, dispersion, strict=True):
            kept.append((row.date, row.spend, row.conversions, row.revenue, phi))
            spread += phi * row.spend**2
        return replace(self, spread=round(spread, 6), recent=tuple(kept[-KEPT_DAYS:]))

    @property
    def whole(self) -> bool:
        """``recent`` holds every day of the stream (a betting test may read it from the
        start)."""
        return len(self.recent) == self.days

    def extend(self, rows: Sequence[DayRow], through: date) -> Stream:
        """This stream with the rows after its ``through`` up to ``through`` added."""
        last = through.isoformat()
        if self.through is not None and last <= self.through:
            return self
        after = self.through or ""
        added = [r for r in rows if self.start <= r.date <= last and r.date > after]
        return replace(
            self,
            through=last if last >= self.start else self.through,
            spend=round(self.spend + sum(r.spend for r in added), 6),
            conversions=self.conversions + sum(r.conversions for r in added),
            revenue=round(self.revenue + sum(r.revenue for r in added), 6),
            days=self.days + len(added),
        )

    @property
    def span_days(self) -> int:
        """Calendar days from ``start`` to ``through`` (a day without delivery counts: days,
        not rows)."""
        if self.through is None:
            return 0
        return (date.fromisoformat(self.through) - date.fromisoformat(self.start)).days + 1

    def describe(self) -> dict[str, Any]:
        """The stream as a decision's evidence (``first``/``last``: its days)."""
        return {
            "first": self.start,
            "last": self.through,
            "spend": round(self.spend, 2),
            "conversions": self.conversions,
            "revenue": round(self.revenue, 2),
            "days": self.days,
        }


def next_stream(
    current: Stream | None,
    rows: Sequence[DayRow],
    through: date,
    changed_on: date | None = None,
) -> Stream | None:
    """``current`` extended to ``through``; a new stream when there is none or the entity was
    changed on or after its start (it then starts the day after the change). None while there
    is no matured row to start from."""
    restart = changed_on + timedelta(days=1) if changed_on is not None else None
    if current is not None and (restart is None or current.start >= restart.isoformat()):
        return current.extend(rows, through)
    floor = restart.isoformat() if restart is not None else ""
    matured = [r.date for r in rows if floor <= r.date <= through.isoformat()]
    if not matured:
        return None
    return Stream(start=min(matured)).extend(rows, through)
