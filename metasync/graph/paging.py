"""Cursor pagination that survives Meta's quirks.

- Follows ``paging.next`` (its query, minus any token, re-sent with our own auth) until it
  disappears, through empty pages that still carry ``next``.
- Stops when a cursor repeats (Meta has been seen looping), counting it in the client's stats.
  Such a listing is incomplete: :attr:`Listing.stopped_early` says why, and nothing may be
  concluded from what it did not return (no tombstones).
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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from metasync.graph.client import GraphClient
from metasync.graph.errors import InvalidCursorError, ReduceDataError, TransientError
from metasync.graph.redact import SECRET_PARAMS

__all__ = ["Listing", "Page", "iter_pages"]

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class Page:
    """One page of a listing. ``after`` resumes the listing after this page (None at the end)."""

    items: list[dict[str, Any]]
    number: int  # 1-based, within this iteration
    after: str | None
    limit: int


@dataclass
class Listing:
    """The pages of one listing, in order. Once iterated, ``stopped_early`` names why the
    listing ended before Meta's last page (a repeated cursor), or is None: it reached the last
    page, or stopped at ``max_pages`` with a cursor to continue from."""

    _pages: Iterator[Page] = field(repr=False)
    stopped_early: str | None = None

    def __iter__(self) -> Iterator[Page]:
        return self

    def __next__(self) -> Page:
        return next(self._pages)


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
) -> Listing:
    """The pages of ``path``. ``after`` starts after a cursor; ``max_pages`` bounds it."""
    listing = Listing(iter(()))
    listing._pages = _pages(
        listing, client, path, dict(params or {}), account_id, limit, min_limit, after, max_pages
    )
    return listing


def _pages(
    listing: Listing,
    client: GraphClient,
    path: str,
    base: dict[str, Any],
    account_id: str | None,
    limit: int,
    min_limit: int,
    after: str | None,
    max_pages: int | None,
) -> Iterator[Page]:
    request: dict[str, Any] = {**base, "limit": limit}
    if after:
        request["after"] = after
    current = limit
    seen: set[tuple[tuple[str, str], ...]] = set()
    met: set[str] = {after} if after else set()  # a cursor met again means a loop
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
            met.clear()
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
        if key in seen or (cursor is not None and cursor in met):
            client.stats.repeated_cursors += 1
            listing.stopped_early = f"Meta repeated a paging cursor after page {number} of {path}"
            log.warning("repeated cursor on %s after page %d: stopping", path, number)
            return
        seen.add(key)
        if cursor is not None:
            met.add(cursor)
        request = {**base, **next_request}
        if current < limit:
            current = min(limit, current * 2)
