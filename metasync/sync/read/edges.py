"""Reading one account-level edge, a few pages per subtask.

The reading is Graph's: each page goes to ``write_page`` (the write stage's entity writer, passed
in by :mod:`metasync.sync.pipeline`) as soon as it arrives, so what a subtask read before it died
is kept. What each edge is (fields, filter) is :mod:`metasync.sync.shapes.edges`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from metasync.graph import GraphClient, iter_pages
from metasync.sync.shapes.edges import EDGES, edge_params

__all__ = ["PAGES_PER_TASK", "PAGE_SIZE", "ChunkResult", "EntityPageWriter", "read_edge_chunk"]

PAGE_SIZE = 200  # objects per Graph page (Meta's maximum for edges is higher; 200 stays small)
PAGES_PER_TASK = 5  # pages one task reads before handing the cursor to a follow-up task

EntityPageWriter = Callable[[str, list[dict[str, Any]]], dict[str, int]]
"""Writes one page of an edge's raw objects (edge name, objects); returns objects written by
edge (an ads page also writes its creatives)."""


@dataclass(frozen=True)
class ChunkResult:
    next_after: str | None  # the cursor to continue from, None when the edge is finished
    pages: int
    counts: dict[str, int]
    stopped_early: str | None = None  # why the listing ended before Meta's last page


def read_edge_chunk(
    client: GraphClient,
    *,
    account_id: str,
    edge: str,
    since: datetime | None,
    after: str | None,
    write_page: EntityPageWriter,
    on_page: Callable[[int, dict[str, int]], object],
    pages_per_task: int | None = None,
) -> ChunkResult:
    """Read up to ``pages_per_task`` pages of ``edge`` from ``after``, handing each page to
    ``write_page``; ``on_page(page_number, counts)`` is called after each page is written (for
    run statistics)."""
    spec = EDGES[edge]
    pages_per_task = pages_per_task or PAGES_PER_TASK
    pages = 0
    counts: dict[str, int] = {}
    last_after: str | None = None
    listing = iter_pages(
        client,
        f"act_{account_id}/{edge}",
        edge_params(spec, since),
        account_id=account_id,
        limit=PAGE_SIZE,
        after=after,
        max_pages=pages_per_task,
    )
    for page in listing:
        pages += 1
        page_counts = write_page(edge, page.items)
        for name, value in page_counts.items():
            counts[name] = counts.get(name, 0) + value
        on_page(pages, page_counts)
        last_after = page.after
    if listing.stopped_early:
        return ChunkResult(None, pages, counts, listing.stopped_early)
    finished = last_after is None or pages < pages_per_task
    return ChunkResult(None if finished else last_after, pages, counts)
