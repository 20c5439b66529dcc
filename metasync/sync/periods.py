"""Which days a performance sync reads, in each ad account's own timezone.

- A connection's first performance sync reads ``META_INSIGHTS_INITIAL_DAYS`` up to today.
- Once a day a run re-reads ``META_INSIGHTS_LOOKBACK_DAYS`` (attribution keeps changing recent
  days for up to 28 days); the other scheduled runs re-read only ``META_INSIGHTS_RECENT_DAYS``.
  Recent days are thus read often and old days rarely, which is what keeps API calls low.
- The long re-read is anchored to the account's day, not to the last one: it is due once a
  local day has begun since the last one started (:func:`lookback_due`), so it runs in the
  first scheduled performance sync after the account's midnight, every day, without drifting
  (a re-read due "24 hours after the last" ran every 24 h + one sync interval, 25 h at the
  default, and skipped a day every 24). The optimizer reads it in step
  (:func:`reread_through`): a day enters its matured streams only once a long re-read has
  started after the day matured (:mod:`metasync.optimize.maturity`) and still held it in its
  range, so no late conversion of a matured day is left unread. This assumes the maturity fits
  the re-read (``maturity + 1 <= META_INSIGHTS_LOOKBACK_DAYS``: at most 27 days at the
  default 28).
- Explicit ranges or presets (CLI) are resolved here too, so a run can decide between a
  synchronous read and an async job and split a job by halving its range.
- Nothing older than Meta's 37-month retention is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from metasync.config import Settings

__all__ = [
    "PRESETS",
    "Period",
    "account_today",
    "lookback_due",
    "reread_through",
    "resolve",
    "retention_start",
]

PRESETS = (
    "today",
    "yesterday",
    "last_3d",
    "last_7d",
    "last_14d",
    "last_28d",
    "last_30d",
    "last_90d",
    "this_month",
    "last_month",
    "maximum",
)


@dataclass(frozen=True)
class Period:
    """An explicit request: a preset, or since/until (inclusive)."""

    preset: str | None = None
    since: date | None = None
    until: date | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "preset": self.preset,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None] | None) -> Period | None:
        if not data or not any(data.values()):
            return None
        since, until = data.get("since"), data.get("until")
        return cls(
            data.get("preset"),
            date.fromisoformat(since) if since else None,
            date.fromisoformat(until) if until else None,
        )


def _zone(timezone_name: str | None) -> tzinfo:
    try:
        return ZoneInfo(timezone_name) if timezone_name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def account_today(timezone_name: str | None, now: datetime | None = None) -> date:
    """Today in the account's timezone (UTC when unknown)."""
    moment = now or datetime.now(UTC)
    return moment.astimezone(_zone(timezone_name)).date()


def lookback_due(
    last_lookback_at: datetime | None, now: datetime, timezone_name: str | None
) -> bool:
    """The long re-read is due: none has started on the account's current local day (its
    timezone; UTC when unknown). Anchored to the local midnight, so it runs once each local
    day, in the first performance sync after midnight, never drifting through the day."""
    if last_lookback_at is None:
        return True
    started = last_lookback_at if last_lookback_at.tzinfo else last_lookback_at.replace(tzinfo=UTC)
    return account_today(timezone_name, started) < account_today(timezone_name, now)


def reread_through(last_lookback_at: datetime | None, timezone_name: str | None) -> date | None:
    """The newest day whose conversions up to its end were all read by the last long re-read
    (the day before the account's local day on which that re-read started; None: none yet).
    A day whose attribution window of ``m`` days ends by then (``day + m <= reread_through``)
    has been read after every conversion it can get arrived, assuming Meta reports a
    conversion by the time the next local day begins."""
    if last_lookback_at is None:
        return None
    started = last_lookback_at if last_lookback_at.tzinfo else last_lookback_at.replace(tzinfo=UTC)
    return account_today(timezone_name, started) - timedelta(days=1)


def retention_start(today: date) -> date:
    """The oldest day Meta still serves (37 months), plus a day of margin."""
    oldest: date = today - relativedelta(months=37) + timedelta(days=1)
    return oldest


def _preset(preset: str, today: date) -> tuple[date, date]:
    yesterday = today - timedelta(days=1)
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return yesterday, yesterday
    if preset.startswith("last_") and preset.endswith("d") and preset[5:-1].isdigit():
        return today - timedelta(days=int(preset[5:-1])), yesterday
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if preset == "maximum":
        return retention_start(today), today
    raise ValueError(f"unknown date preset {preset!r}; expected one of {', '.join(PRESETS)}")


class Watermarks(Protocol):
    """What a performance plan needs to know of an account's past runs."""

    last_performance_sync_at: datetime | None
    last_lookback_at: datetime | None


def resolve(
    settings: Settings,
    connection: Watermarks,
    today: date,
    explicit: Period | None,
    now: datetime,
    timezone_name: str | None = None,
) -> tuple[date, date, str]:
    """(since, until, kind) for one account whose today is ``today`` (in ``timezone_name``)."""
    if explicit is not None:
        if explicit.preset:
            since, until = _preset(explicit.preset, today)
        else:
            since, until = explicit.since or today, explicit.until or today
        kind = "explicit"
    elif connection.last_performance_sync_at is None:
        since, until, kind = (
            today - timedelta(days=settings.META_INSIGHTS_INITIAL_DAYS),
            today,
            ("initial"),
        )
    elif lookback_due(connection.last_lookback_at, now, timezone_name):
        since, until = today - timedelta(days=settings.META_INSIGHTS_LOOKBACK_DAYS), today
        kind = "lookback"
    else:
        since, until = today - timedelta(days=settings.META_INSIGHTS_RECENT_DAYS - 1), today
        kind = "recent"
    if since > until:
        raise ValueError(f"the period starts ({since}) after it ends ({until})")
    return max(since, retention_start(today)), until, kind
