"""After a full run's complete listing of one edge: tombstone what it did not return
(:mod:`metasync.sync.write.tombstones`), confirming by id above the allowed share, and write
back the objects that answered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from metasync.graph import GraphClient
from metasync.models import MetaConnection, upsert_page, utcnow
from metasync.sync.context import SyncContext
from metasync.sync.shapes.edges import EDGES, LIBRARY_EDGES
from metasync.sync.subtasks import Subtask
from metasync.sync.write.tombstones import mark_deleted, tombstone_edge

__all__ = ["TombstoneCounter", "tombstone_listing"]

TombstoneCounter = Callable[[str, int], None]
"""Counts tombstones of a kind on the run when they are marked (the account stage's)."""


def tombstone_listing(
    ctx: SyncContext,
    client: GraphClient,
    connection: MetaConnection,
    sub: Subtask,
    currency: str | None,
    count: TombstoneCounter,
) -> None:
    """Tombstone the objects of ``sub``'s edge its run's complete listing did not return,
    counting what it marked (by edge), confirmed alive and read by id as deleted."""
    spec = EDGES[sub.edge]
    tree = sub.edge in ("campaigns", "adsets", "ads")
    lookback = timedelta(days=ctx.settings.META_INSIGHTS_LOOKBACK_DAYS)
    outcome = tombstone_edge(
        client,
        spec.model,
        tenant_id=connection.tenant_id,
        account_id=sub.account_id,
        run_id=sub.run_id,
        fields=spec.fields,
        max_share=ctx.settings.META_TOMBSTONE_MAX_SHARE,
        recent_since=utcnow() - lookback if tree else None,
        confirmable=sub.edge not in LIBRARY_EDGES,
    )

    def write_back(raws: list[dict[str, Any]]) -> list[str]:
        rows = [
            {
                **spec.mapper(raw, connection.tenant_id, currency, sub.account_id),
                "last_seen_run": sub.run_id,
            }
            for raw in raws
        ]
        upsert_page(spec.model, rows)
        return [row["meta_id"] for row in rows]

    if outcome.confirmed_alive:
        alive = write_back(outcome.confirmed_alive)
        count(f"confirmed_alive_{sub.edge}", len(alive))
    final = mark_deleted(spec.model, connection.tenant_id, write_back(outcome.final))
    if final:  # deleted at Meta, no longer listed: read by id once, final status kept
        count(f"deleted_read_by_id_{sub.edge}", final)
    count(sub.edge, outcome.marked + final)
