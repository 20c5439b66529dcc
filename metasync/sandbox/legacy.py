"""The Graph API's legacy request features, and their closing to new apps.

Meta's Graph API v27.0 launch post (2026-11-04, developers.facebook.com/blog): "Starting November
4, 2026, new apps cannot use multi-ID requests, date/time formatting, HTTP method override, field
aliases, JSONP callbacks, or asynchronous batch requests ... across all Graph API versions"; v28
removes them for every app. The sandbox's app is new unless configured otherwise
(``SandboxConfig.app_created``), so each feature is refused before any route runs, with Meta's
error shape (#100, ``GraphMethodException``) naming the feature.

The multi-id read itself (``GET /?ids=a,b,c``) is served here for older apps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from metasync.sandbox.errors import GraphError

__all__ = ["LEGACY_CLOSED_FOR_APPS_FROM", "legacy_feature", "multi_id_read", "refuse_legacy"]

LEGACY_CLOSED_FOR_APPS_FROM = date(2026, 11, 4)


def legacy_feature(method: str, path: str, params: Mapping[str, Any]) -> str | None:
    """The legacy feature a request uses, by Meta's name, or None."""
    if path == "" and method == "GET" and "ids" in params:
        return "multi-ID requests"
    if method == "POST" and path.endswith("/async_batch_requests"):  # Marketing API's edge
        return "asynchronous batch requests"
    if "date_format" in params:
        return "date/time formatting"
    if "method" in params:
        return "HTTP method override"
    if "callback" in params:
        return "JSONP callbacks"
    if ".as(" in str(params.get("fields", "")):
        return "field aliases"
    return None


def refuse_legacy(app_created: date, method: str, path: str, params: Mapping[str, Any]) -> None:
    """Raise Meta's error when an app created on or after 2026-11-04 uses a legacy feature."""
    if app_created < LEGACY_CLOSED_FOR_APPS_FROM:
        return
    feature = legacy_feature(method, path, params)
    if feature is not None:
        raise GraphError(
            400,
            100,
            f"(#100) Not available to apps created on or after November 4, 2026: {feature}. "
            "Read objects by id through batch requests instead.",
            error_type="GraphMethodException",
        )


def multi_id_read(
    ids_param: str,
    read_one: Callable[[str], dict[str, Any] | None],
) -> dict[str, Any]:
    """``GET /?ids=a,b,c``: every id's object, keyed by the id asked for. Meta refuses the whole
    read and names the ids it does not know (#803) when one cannot be found; ``read_one`` returns
    None for such an id and raises for one the token may not read."""
    ids = [i for i in ids_param.split(",") if i]
    if not ids:
        raise GraphError(
            400, 100, "(#100) Missing ids parameter", error_type="GraphMethodException"
        )
    result: dict[str, Any] = {}
    missing: list[str] = []
    for object_id in ids:
        found = read_one(object_id)
        if found is None:
            missing.append(object_id)
        else:
            result[object_id] = found
    if missing:
        raise GraphError(
            400,
            803,
            f"(#803) Some of the aliases you requested do not exist: {','.join(missing)}",
            error_type="OAuthException",
        )
    return result
