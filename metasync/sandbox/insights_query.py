"""Reading an insights request's breakdowns, action breakdowns, attribution windows and time
increment, with Meta's errors for what it does not serve (the sandbox's own reading of Meta's pages:
:mod:`metasync.sandbox.breakdown_rules`).

Retired attribution windows (``7d_view``, ``28d_view``) are accepted and return nothing, as
Meta does since 2026-01-12. Hourly breakdowns refuse reach and unique fields (the sandbox
answers (#100) where Meta's documentation only says they are excluded: the stricter reading).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from metasync.sandbox.breakdown_rules import (
    ACTION_BREAKDOWNS,
    ATTRIBUTION_WINDOWS,
    BREAKDOWNS,
    HOURLY_BREAKDOWNS,
    REACH_FIELDS,
    RETIRED_BREAKDOWNS,
    RETIRED_WINDOWS,
    combination_error,
    counts_people,
)
from metasync.sandbox.errors import GraphError
from metasync.sandbox.rows import InsightsQuery

__all__ = ["parse_query"]


def _error(message: str) -> GraphError:
    return GraphError(400, 100, f"(#100) {message}", error_type="OAuthException")


def _names(raw: Any, param: str) -> list[str]:
    """A list parameter as Meta takes it: JSON list or comma-separated."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, list | tuple):
        return [str(item) for item in raw]
    text = str(raw).strip()
    if text.startswith("["):
        try:
            listed = json.loads(text)
        except ValueError:
            raise _error(f"param {param} must be a list") from None
        if not isinstance(listed, list):
            raise _error(f"param {param} must be a list")
        return [str(item) for item in listed]
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_query(params: Mapping[str, Any], level: str) -> InsightsQuery:
    """The request's :class:`InsightsQuery`, or Meta's (#100) error naming what is wrong."""
    breakdowns = _names(params.get("breakdowns"), "breakdowns")
    for name in breakdowns:
        if name in RETIRED_BREAKDOWNS:
            retired, instead = RETIRED_BREAKDOWNS[name]
            raise _error(
                f"The {name} breakdown is no longer supported since {retired}; use {instead} "
                "instead"
            )
    for index, name in enumerate(breakdowns):
        if name not in BREAKDOWNS:
            raise _error(
                f"breakdowns[{index}] must be one of the following values: {', '.join(BREAKDOWNS)}"
            )
    action_breakdowns = _names(params.get("action_breakdowns"), "action_breakdowns")
    if params.get("action_breakdowns") is None:
        action_breakdowns = ["action_type"]
    for index, name in enumerate(action_breakdowns):
        if name not in ACTION_BREAKDOWNS:
            raise _error(
                f"action_breakdowns[{index}] must be one of the following values: "
                f"{', '.join(ACTION_BREAKDOWNS)}"
            )
    fields = _names(params.get("fields"), "fields")
    asks_actions = any(name in ("actions", "action_values") for name in fields)
    problem = combination_error(
        breakdowns,
        action_breakdowns if asks_actions or "action_device" in action_breakdowns else (),
    )
    if problem:
        raise _error(problem)
    windows = _names(params.get("action_attribution_windows"), "action_attribution_windows")
    for index, window in enumerate(windows):
        if window not in ATTRIBUTION_WINDOWS and window not in RETIRED_WINDOWS:
            raise _error(
                f"action_attribution_windows[{index}] must be one of the following values: "
                f"{', '.join((*ATTRIBUTION_WINDOWS, *RETIRED_WINDOWS))}"
            )
    if any(name in HOURLY_BREAKDOWNS for name in breakdowns):
        people = [name for name in fields if name in REACH_FIELDS or counts_people(name)]
        if people:
            raise _error(f"{', '.join(people)} cannot be requested with hourly breakdowns")
    increment = (
        "all_days" if params.get("time_ranges") else str(params.get("time_increment") or "all_days")
    )
    if increment not in ("1", "7", "monthly", "all_days"):
        raise _error("the sandbox supports time_increment 1, 7, monthly or all_days")
    return InsightsQuery(
        level,
        breakdowns=tuple(breakdowns),
        action_device="action_device" in action_breakdowns,
        windows=tuple(w for w in windows if w not in RETIRED_WINDOWS),
        increment=increment,
        video=any(name.startswith("video_") for name in fields),
        action_targets=bool({"action_target_id", "action_destination"} & set(action_breakdowns)),
    )
