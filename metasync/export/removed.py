"""Deleting from the warehouse the rows the mirror removed (:mod:`metasync.models.deletions`).

The export reads an account's ``export_deletions`` like its rows, in write-number order from
the account's ``deleted`` mark up to the watermark, and deletes their keys from the source's
table (``metasync_daily_insights``, ``metasync_report_rows``) in the batch's transaction, which
also carries the new mark (a batch's deletes and its mark commit together, as rows do).

A deletion is applied only where the mirror holds no row of its key now: a row written again
after it was removed is exported by its own (later) number, and the deletion, met before or
after it, leaves it alone. This is :func:`still_gone`, a pure function of the deletions and the
rows the mirror holds; the reads happen in :func:`gone_keys`.

Left out: Fivetran's tables built from these rows (``basic_ad`` and its actions from daily rows,
``demographics_*`` from the country and region reports) are not deleted from. The mirror
removes no daily rows and no rows of those reports today (only the ``placement`` report's old
rows move), so nothing is left behind there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from metasync.models import DailyInsight, ReportRow
from metasync.models.deletions import SOURCES

__all__ = ["TABLE_OF", "gone_keys", "still_gone"]

TABLE_OF = {"daily": "metasync_daily_insights", "reports": "metasync_report_rows"}
MODEL_OF: dict[str, Any] = {"daily": DailyInsight, "reports": ReportRow}

Key = tuple[Any, ...]


def still_gone(
    deletions: Iterable[Mapping[str, Any]], held: Mapping[str, set[Key]]
) -> dict[str, list[Key]]:
    """Per source, the keys (``SOURCES[source]`` order) of ``deletions`` that the mirror does
    not hold (``held``: per source, the keys of the rows it holds), each once."""
    gone: dict[str, dict[Key, None]] = {}
    for deletion in deletions:
        source = deletion["source"]
        key = tuple(deletion["key"].get(name, "") for name in SOURCES[source])
        if key not in held.get(source, set()):
            gone.setdefault(source, {})[key] = None
    return {source: list(keys) for source, keys in gone.items()}


def gone_keys(
    tenant_id: str, account_id: str, deletions: Sequence[Mapping[str, Any]]
) -> dict[str, list[Key]]:
    """Per warehouse table, the keys (``table.key`` order) to delete for ``deletions`` of one
    account: those whose row the mirror does not hold again. One read per source, each key
    field among the deletions' values (a superset of their rows, on the natural-key index)."""
    held: dict[str, set[Key]] = {}
    for source in sorted({d["source"] for d in deletions}):
        fields = SOURCES[source]
        mine = [d["key"] for d in deletions if d["source"] == source]
        where: dict[str, Any] = {"tenant_id": tenant_id, "account_id": account_id}
        for name in fields:
            values: list[str | None] = [*sorted({str(key.get(name, "")) for key in mine})]
            if "" in values:  # an empty key field may be missing from the document
                values.append(None)
            where[name] = {"$in": values}
        found = MODEL_OF[source]._get_collection().find(where, dict.fromkeys(fields, 1))
        held[source] = {tuple(doc.get(name) or "" for name in fields) for doc in found}
    return {
        TABLE_OF[source]: [_table_key(source, account_id, key) for key in keys]
        for source, keys in still_gone(deletions, held).items()
    }


def _table_key(source: str, account_id: str, key: Key) -> Key:
    """A deletion's key as its warehouse table's key (the account first after the report)."""
    if source == "daily":
        level, entity_id, day = key
        return (account_id, level, entity_id, date.fromisoformat(day))
    report, *rest = key
    return (report, account_id, *rest)
