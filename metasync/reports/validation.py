"""Refusing a report Meta would refuse, before any call, with a message naming the problem."""

from __future__ import annotations

import re

from metasync.reports.catalogue import (
    ATTRIBUTION_WINDOWS,
    NO_BREAKDOWN_FIELDS,
    REACH_FIELDS,
    RETIRED_WINDOWS,
    TIME_INCREMENTS,
    combination_error,
    is_unique_field,
)
from metasync.reports.definitions import PREBUILT, ReportDefinition
from metasync.sandbox.catalogue import allowed_fields

__all__ = ["MAX_LOOKBACK_DAYS", "ReportError", "check", "problems"]

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LEVELS = ("account", "campaign", "adset", "ad")
MAX_LOOKBACK_DAYS = 1_100  # Meta keeps 37 months
# identity fields metasync asks for itself: a report lists metrics only
IDENTITY_FIELDS = frozenset(
    ("account_id", "campaign_id", "adset_id", "ad_id", "date_start", "date_stop")
)
# Meta's AdsInsights fields (from the Graph API SDK's field list)
INSIGHT_FIELDS = frozenset(allowed_fields("insights")) - IDENTITY_FIELDS


class ReportError(ValueError):
    """A report definition Meta would refuse (or metasync cannot keep); says why."""


def problems(report: ReportDefinition, *, custom: bool = True) -> list[str]:
    """Everything wrong with ``report``, each naming the offending value; empty when valid."""
    found: list[str] = []
    if not NAME.match(report.name):
        found.append(
            f"report name {report.name!r} must be lower-case letters, digits and _ "
            "(at most 40, starting with a letter)"
        )
    if report.name in LEVELS:
        found.append(f"report name {report.name!r} is a level's (run counters use both)")
    if custom and report.name in PREBUILT:
        found.append(f"report name {report.name!r} is a prebuilt report's")
    if report.level not in LEVELS:
        found.append(f"level {report.level!r} is not one of {', '.join(LEVELS)}")
    if not report.fields:
        found.append("a report needs at least one field")
    for name in report.fields:
        if name not in INSIGHT_FIELDS:
            found.append(f"unknown insights field {name!r}")
        elif report.breakdowns and name in NO_BREAKDOWN_FIELDS:
            found.append(f"field {name!r} is not served with breakdowns")
    combination = combination_error(report.breakdowns, report.action_breakdowns)
    if combination:
        found.append(combination)
    if len(set(report.breakdowns)) != len(report.breakdowns):
        found.append("a breakdown is named twice")
    for window in report.attribution_windows:
        if window in RETIRED_WINDOWS:
            found.append(
                f"attribution window {window!r} was retired by Meta on 2026-01-12 "
                f"(it returns nothing); use one of {', '.join(ATTRIBUTION_WINDOWS)}"
            )
        elif window not in ATTRIBUTION_WINDOWS:
            found.append(
                f"unknown attribution window {window!r}; "
                f"expected one of {', '.join(ATTRIBUTION_WINDOWS)}"
            )
    if report.time_increment not in TIME_INCREMENTS:
        found.append(
            f"time increment {report.time_increment!r} is not one of {', '.join(TIME_INCREMENTS)}"
        )
    if report.hourly:
        people = [n for n in report.fields if n in REACH_FIELDS or is_unique_field(n)]
        if people:
            found.append(f"hourly breakdowns exclude reach and unique fields: {', '.join(people)}")
        if report.time_increment != "1":
            found.append("an hourly report reads one day at a time: time increment must be 1")
    if not 0 <= report.lookback_days <= MAX_LOOKBACK_DAYS:
        found.append(f"lookback {report.lookback_days} days is not within 0-{MAX_LOOKBACK_DAYS}")
    if report.lookback_days == 0 and report.time_increment != "all_days":
        found.append("lookback 0 (lifetime) goes with time increment all_days only")
    return found


def check(report: ReportDefinition, *, custom: bool = True) -> ReportDefinition:
    """``report`` when valid, else :class:`ReportError` listing every problem."""
    found = problems(report, custom=custom)
    if found:
        raise ReportError(f"report {report.name!r} is invalid: " + "; ".join(found))
    return report
