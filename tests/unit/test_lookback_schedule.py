"""The long re-read runs in step with the optimizer's evaluation: driven with a fake clock over
60 days (hourly performance syncs, evaluations every 4 hours, accounts in three time zones,
one across a daylight-saving change), a long re-read starts on every local day of the account,
and every day enters the optimizer's matured streams only after a re-read that started once the
day's attribution window had closed, and no later than the day after it could."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from metasync.config import Settings
from metasync.optimize.stream import matured_through
from metasync.sync.periods import account_today, reread_through, resolve

START = datetime(2026, 3, 1, tzinfo=UTC)  # Europe/London changes its clocks on 2026-03-29
DAYS = 60
WINDOWS = ("META_INSIGHTS_INITIAL_DAYS", "META_INSIGHTS_LOOKBACK_DAYS", "META_INSIGHTS_RECENT_DAYS")
MATURITY = 7  # 7-day click: a day's conversions keep arriving until the end of day + 7


@dataclass
class Watermarks:
    last_performance_sync_at: datetime | None = None
    last_lookback_at: datetime | None = None


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles", "Europe/London"])
@pytest.mark.parametrize("sync_minute", [0, 7, 59])
def test_every_day_is_re_read_after_its_window_before_it_enters_a_stream(
    zone: str, sync_minute: int
) -> None:
    settings = cast(
        Settings, SimpleNamespace(**{name: Settings.model_fields[name].default for name in WINDOWS})
    )
    lookback = settings.META_INSIGHTS_LOOKBACK_DAYS
    marks = Watermarks()
    reads: list[tuple[datetime, date, date]] = []  # each long re-read: started, since, until
    entered: dict[date, datetime] = {}  # day -> the evaluation that added it to the stream
    stream_through: date | None = None
    hours = [START + timedelta(hours=n) for n in range(DAYS * 24)]
    syncs = [(h + timedelta(minutes=sync_minute), "sync") for h in hours]
    evaluations = [(h + timedelta(minutes=2), "evaluate") for h in hours if h.hour % 4 == 0]
    for moment, event in sorted(syncs + evaluations):
        if event == "sync":  # a performance sync starts (and closes before the next)
            today = account_today(zone, moment)
            since, until, kind = resolve(settings, marks, today, None, moment, zone)
            if kind in ("initial", "lookback"):
                reads.append((moment, since, until))
                marks.last_lookback_at = moment
            marks.last_performance_sync_at = moment
        elif reads:  # the optimizer's evaluation, once there are rows
            evaluated = moment
            yesterday = account_today(zone, evaluated) - timedelta(days=1)
            read = reread_through(marks.last_lookback_at, zone)
            newest = yesterday if read is None else min(yesterday, read)
            through = matured_through(newest, MATURITY)
            day = (stream_through or through) + timedelta(days=1 if stream_through else 0)
            while day <= through:
                entered.setdefault(day, evaluated)
                day += timedelta(days=1)
            stream_through = max(through, stream_through or through)

    local = ZoneInfo(zone)
    started_days = {s.astimezone(local).date() for s, _, _ in reads}
    first, last = START.astimezone(local).date(), (START + timedelta(days=DAYS - 1)).date()
    missing = [first + timedelta(days=n) for n in range((last - first).days)]
    assert [d for d in missing if d not in started_days] == [], "a local day without a re-read"
    assert len(reads) <= (last - first).days + 2, "one long re-read a local day, no more"
    assert len(entered) >= DAYS - MATURITY - 3
    for day, evaluated in entered.items():
        closed = day + timedelta(days=MATURITY + 1)  # the local day its window has closed by
        covering = [
            s
            for s, since, until in reads
            if s <= evaluated and s.astimezone(local).date() >= closed and since <= day <= until
        ]
        assert covering, f"{day} entered the stream at {evaluated} unread since its window"
        assert evaluated.astimezone(local).date() <= closed + timedelta(days=1), "not held back"
    assert lookback >= MATURITY + 1, "the re-read reaches back past the attribution window"
