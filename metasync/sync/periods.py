"""Which days a performance sync reads, in each ad account's own timezone.

- A connection's first performance sync reads ``META_INSIGHTS_INITIAL_DAYS`` up to today.
- Once a day a run re-reads ``META_INSIGHTS_LOOKBACK_DAYS`` (attribution keeps changing recent
  days for up to 28 days); the other scheduled runs re-read only ``META_INSIGHTS_RECENT_DAYS``.
  Recent days are thus read often and old days rarely, which is what keeps API calls low.
- Explicit ranges or presets (CLI) are resolved here too, so a run can decide between a
  synchronous read and an async job and split a job by halving its range.
- Nothing older than Meta's 37-month retention is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from metasync.config import Settings

__all__ = ["PRESETS", "Period", "account_today", "resolve", "retention_start"]

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
LOOKBACK_EVERY = timedelta(hours=24)


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


def account_today(timezone_name: str | None, now: datetime | None = None) -> date:
    """Today in the account's timezone (UTC when unknown)."""
    moment = now or datetime.now(UTC)
    try:
        zone = ZoneInfo(timezone_name) if timezone_name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return moment.astimezone(zone).date()


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
) -> tuple[date, date, str]:
    """(since, until, kind) for one account whose today is ``today``."""
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
    elif connection.last_lookback_at is None or now - connection.last_lookback_at > LOOKBACK_EVERY:
        since, until = today - timedelta(days=settings.META_INSIGHTS_LOOKBACK_DAYS), today
        kind = "lookback"
    else:
        since, until = today - timedelta(days=settings.META_INSIGHTS_RECENT_DAYS - 1), today
        kind = "recent"
    if since > until:
        raise ValueError(f"the period starts ({since}) after it ends ({until})")
    return max(since, retention_start(today)), until, kind
