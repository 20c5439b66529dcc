"""An entity's matured days since a fixed start: the one growing sample a sequential test reads.

**Matured days only.** Meta attributes a conversion to the day of the click (or view) that led
to it, and keeps adding conversions to that day for as long as the ad set's attribution window
(``attribution_spec``: 1 or 7 days of click, 1 of view): yesterday may show half of what it will.
A day enters a stream only once it is older than that window (``maturity_days``: the longest
window of the spec, 7 when Meta did not say), so every count a decision reads is final and the
test needs no model of the lag, whatever the advertiser's lag profile. The cost: decisions come
``maturity_days`` later than a test on raw days would make them (``bench/optimizer_validity.py``
measures the time to a decision with it).

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

__all__ = [
    "DEFAULT_MATURITY_DAYS",
    "Stream",
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


def maturity_days(attribution_spec: Iterable[dict[str, Any]] | None) -> int:
    """Days after which a day's conversions are final: the longest window of the spec."""
    windows = [int(w.get("window_days") or 0) for w in attribution_spec or []]
    return max(windows, default=0) or DEFAULT_MATURITY_DAYS


def matured_through(newest_complete: date, maturity: int) -> date:
    """The newest day whose conversions are final, given the newest complete day."""
    return newest_complete - timedelta(days=maturity)


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
