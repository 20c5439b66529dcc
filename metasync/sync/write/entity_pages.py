"""Writing one page of an account-level edge: one unordered bulk upsert of its mapped objects
(:mod:`metasync.sync.shapes.edges`), each marked with the run that saw it (``last_seen_run``,
what tombstones compare); an ads page also upserts the creatives nested in its ads. Before a
page of campaigns or ad sets is written, :func:`metasync.sync.write.changes.record_changes` logs
their new status, budget and bid values."""

from __future__ import annotations

from typing import Any

from metasync.models import AdCreative, upsert_page, utcnow
from metasync.sync.shapes import mapping
from metasync.sync.shapes.edges import CHANGE_KINDS, EDGES
from metasync.sync.write.changes import record_changes

__all__ = ["write_entity_page"]


def write_entity_page(
    edge: str,
    items: list[dict[str, Any]],
    *,
    tenant_id: str,
    account_id: str,
    currency: str | None,
    run_id: str,
) -> dict[str, int]:
    """Upsert one page of ``edge``'s raw objects; returns objects written by edge."""
    spec = EDGES[edge]
    now = utcnow()
    rows = [spec.mapper(raw, tenant_id, currency, account_id) for raw in items]
    if edge != "activities":  # append-only: no presence to mark
        rows = [{**row, "last_seen_run": run_id} for row in rows]
    if edge in CHANGE_KINDS:
        record_changes(spec.model, CHANGE_KINDS[edge], rows, run_id=run_id, now=now)
    upsert_page(spec.model, rows, now)
    counts = {edge: len(rows)}
    if edge == "ads":
        creatives = [
            {
                **mapping.map_creative(raw["creative"], tenant_id, account_id),
                "last_seen_run": run_id,
            }
            for raw in items
            if isinstance(raw.get("creative"), dict) and raw["creative"].get("id")
        ]
        upsert_page(AdCreative, creatives, now)
        counts["adcreatives"] = len(creatives)
    return counts
