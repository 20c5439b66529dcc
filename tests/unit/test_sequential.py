"""The matured stream adds each matured day once (the tests' evidence:
``test_sequential_evidence.py``)."""

from __future__ import annotations

from datetime import date, timedelta

from metasync.optimize.decisions import DayFigures
from metasync.optimize.stream import Stream, matured_through, maturity_days, next_stream


def _rows(first: date, counts: list[int]) -> list[DayFigures]:
    return [
        DayFigures((first + timedelta(days=i)).isoformat(), 10.0, 100, 5, n, 0.0)
        for i, n in enumerate(counts)
    ]


def test_a_stream_adds_matured_days_once_and_restarts_after_a_change() -> None:
    # without a learned arrival profile a 1-day window waits the conservative 7 days
    assert maturity_days([{"event_type": "CLICK_THROUGH", "window_days": 1}]) == 7
    assert maturity_days(None) == 7, "Meta's default setting: 7-day click"
    first = date(2026, 11, 1)
    rows = _rows(first, [1] * 20)  # Nov 1 .. Nov 20
    yesterday = date(2026, 11, 20)
    stream = next_stream(None, rows, matured_through(yesterday, 7))
    assert stream == Stream("2026-11-01", "2026-11-13", 130.0, 13, 0.0, 13)
    # a later look adds only the newly matured day; the same look again changes nothing
    later = next_stream(stream, rows + _rows(date(2026, 11, 21), [5]), date(2026, 11, 14))
    assert later is not None and (later.through, later.days, later.conversions) == (
        "2026-11-14", 14, 14)  # fmt: skip
    assert next_stream(later, rows, date(2026, 11, 14)) == later
    # a restated day already counted is not read again (the stream is final)
    restated = _rows(first, [9] * 20)
    assert next_stream(later, restated, date(2026, 11, 14)) == later
    # changed on Nov 16: a new stream from Nov 17, once a matured row is there
    assert next_stream(later, rows, date(2026, 11, 14), changed_on=date(2026, 11, 16)) is None
    moved = next_stream(later, rows, date(2026, 11, 19), changed_on=date(2026, 11, 16))
    assert moved is not None and (moved.start, moved.days) == ("2026-11-17", 3)
