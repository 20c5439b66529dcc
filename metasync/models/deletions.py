"""Rows the mirror removed, for the warehouse export to remove too.

The export reads daily rows and report rows by write number
(:mod:`metasync.models.numbering`), so a row that is gone from the mirror is never read again
and would stay in the warehouse for good. Where the mirror removes a row because it is wrong
(the ``placement`` report's rows moved to ``placement_device`` by
:func:`metasync.upgrades.split_placement_report`), it records the row's warehouse key in
``export_deletions`` under a write number of the row's ad account, taken like a page's
(:func:`record_removed` runs inside :func:`~metasync.models.numbering.under_number`, with the
removal itself): a deletion is ordered with the account's writes and is read by the export
below the watermark only once the removal committed.

The export applies a deletion only where the mirror holds no row of that key any more, so a
row written again after it was removed (a later number, or one still being written) is never
deleted by it, whatever order the export meets them in.

**What is not recorded, on purpose.** Removals for space are not deletions: if a retention
limit ever prunes old daily rows from the mirror, the warehouse keeps that history (a
warehouse is where history is kept; the mirror is a working copy). A report that is switched
off or removed keeps its rows in the mirror today, so there is nothing to delete either.
Deleting a warehouse row is for rows that should never have been there.

Trade-off: deletions are kept (a small document per removed row, ``export_deletions``), since
a destination that has not exported for months still needs them; an export reads only those
past its mark, on the (tenant, account, seq) index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, Document, LongField, StringField

from metasync.models.base import BASE_META, utcnow

__all__ = ["SOURCES", "ExportDeletion", "record_removed"]

# the export's source of each numbered collection's rows, and the fields (besides the tenant
# and the account) that are the row's key in the warehouse's table for that source
SOURCES: dict[str, tuple[str, ...]] = {
    "daily": ("level", "entity_id", "date"),
    "reports": ("report", "level", "entity_id", "span", "breakdown_key", "attribution_key"),
    # an erased lead (metasync.models.leads): account_id is its page's stream, "page:<id>"
    "leads": ("lead_id",),
}


class ExportDeletion(Document):  # type: ignore[misc]
    """One removed row: its account, its ``source`` (``daily`` or ``reports``), its warehouse
    ``key`` (the fields of :data:`SOURCES`) and the write number it was removed under."""

    tenant_id = StringField(required=True)
    account_id = StringField(required=True)
    source = StringField(required=True, choices=tuple(SOURCES))
    key = DictField()
    seq = LongField()
    removed_at = DateTimeField(default=utcnow)

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "export_deletions",
        "indexes": [{"fields": ["tenant_id", "account_id", "seq"]}],
    }


def record_removed(
    tenant_id: str,
    account_id: str,
    source: str,
    rows: Sequence[Mapping[str, Any]],
    seq: int,
) -> int:
    """Record ``rows`` (mirror documents, or their key fields) of one account as removed under
    the write number ``seq`` (held by the caller, who removes them under it); returns how
    many. One ``insert_many``."""
    fields = SOURCES[source]
    documents = [
        {
            "tenant_id": tenant_id,
            "account_id": account_id,
            "source": source,
            "key": {name: row.get(name, "") for name in fields},
            "seq": seq,
            "removed_at": utcnow(),
        }
        for row in rows
    ]
    if documents:
        ExportDeletion._get_collection().insert_many(documents, ordered=False)
    return len(documents)
