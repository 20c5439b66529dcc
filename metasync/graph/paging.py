"""Cursor pagination that survives Meta's quirks.

- Follows ``paging.next`` (its query, minus any token, re-sent with our own auth) until it
  disappears, through empty pages that still carry ``next``.
- Stops when a cursor repeats (Meta has been seen looping), counting it in the client's stats.
- On a reduce-data error halves ``limit`` (down to ``min_limit``) and retries the same page;
  after each good page the limit doubles back towards the one asked for.
- On an invalid cursor (2642) restarts the listing once from the beginning: pages are upserted
  by natural key, so reading some twice is harmless.

Cursors die with their item, so they are never stored across runs; within a run a page's
``after`` lets a follow-up task continue the listing where this one stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from metasync.graph.client import GraphClient
from metasync.graph.errors import InvalidCursorError, ReduceDataError, TransientError
from metasync.graph.redact import SECRET_PARAMS

__all__ = ["Page", "iter_pages"]

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class Page:
    """One page of a listing. ``after`` resumes the listing after this page (None at the end)."""

    items: list[dict[str, Any]]
    number: int  # 1-based, within this iteration
    after: str | None
    limit: int


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _next_params(next_url: str) -> dict[str, str]:
    return {
        key: value
        for key, value in parse_qsl(urlsplit(next_url).query, keep_blank_values=True)
        if key.lower() not in SECRET_PARAMS
    }


def iter_pages(
    client: GraphClient,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    account_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    min_limit: int = 1,
    after: str | None = None,
    max_pages: int | None = None,
) -> Iterator[Page]:
    """Yield the pages of ``path``. ``after`` starts after a cursor; ``max_pages`` bounds it."""
    base = dict(params or {})
    request: dict[str, Any] = {**base, "limit": limit}
    if after:
        request["after"] = after
    current = limit
    seen: set[tuple[tuple[str, str], ...]] = set()
    restarted = False
    number = 0
    while max_pages is None or number < max_pages:
        try:
            body = client.get(path, {**request, "limit": current}, account_id=account_id).body
        except ReduceDataError:
            if current <= min_limit:
                raise TransientError(
                    f"Meta asks for less data on {path} even at limit={current}; retry later"
                ) from None
            current = max(min_limit, current // 2)
            log.info("reduce-data on %s: limit now %d", path, current)
            continue
        except InvalidCursorError:
            if restarted:
                raise
            restarted = True
            log.warning("invalid cursor on %s: restarting the listing", path)
            request = {**base}
            seen.clear()
            continue
        body = body if isinstance(body, dict) else {}
        data = body.get("data")
        items = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
        paging = _as_dict(body.get("paging"))
        next_url = paging.get("next") if isinstance(paging.get("next"), str) else None
        cursors = _as_dict(paging.get("cursors"))
        next_request = _next_params(next_url) if next_url else {}
        cursor = next_request.get("after") or cursors.get("after")
        number += 1
        yield Page(items, number, cursor if next_url else None, current)
        if not next_url:
            return
        key = tuple(sorted((k, v) for k, v in next_request.items() if k != "limit"))
        if key in seen:
            client.stats.repeated_cursors += 1
            log.warning("repeated cursor on %s after page %d: stopping", path, number)
            return
        seen.add(key)
        request = {**base, **next_request}
        if current < limit:
            current = min(limit, current * 2)
