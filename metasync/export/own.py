"""Mirror documents as rows of metasync's own tables (``metasync_*``): every report's rows,
the daily rows of every level and breakdown-free read, activities, recommendations, the
optimizer's audit and reconciliation outcomes. Their keys are the mirror's natural keys."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from metasync.export.currency import Converter, reporting_columns
from metasync.export.numbers import amount, as_date, as_float, integer, number
from metasync.export.tables import TABLES
from metasync.export.values import Unconvertible
from metasync.graph.insights import VIDEO_FIELDS
from metasync.models import as_decimal

__all__ = ["own_row"]


def _day(value: Any) -> date | Unconvertible | None:
    """A mirror day as a date; empty: None; no day: set aside (:func:`as_date`)."""
    return as_date(value) if value != "" else None


def _decimals(mapping: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not mapping:
        return None
    return {k: str(as_decimal(v)) for k, v in mapping.items()}


def _metrics(
    doc: Mapping[str, Any], day: str | None, converter: Converter | None
) -> dict[str, Any]:
    return {  # a value that is no number becomes its kind: the row is set aside, named
        "spend": amount(doc.get("spend")),
        "revenue": amount(doc.get("revenue")),
        "conversions": amount(doc.get("conversions")),
        "frequency": as_float(doc.get("frequency")),
        **reporting_columns(
            converter, doc.get("currency"), day, spend=doc.get("spend"), revenue=doc.get("revenue")
        ),
    }


def _video(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The video columns of a daily row: each list's values summed (None where Meta sent no
    list); counts as integers, the average time watched (seconds) as a float. A value that is
    no number becomes its kind (the row is set aside, named)."""
    out: dict[str, Any] = {}
    for name in VIDEO_FIELDS:
        entries = [e for e in doc.get(name) or [] if isinstance(e, Mapping)]
        if not entries:
            out[name] = None
            continue
        read = [number(e.get("value")) for e in entries]
        bad = next((r for r in read if isinstance(r, Unconvertible)), None)
        total = bad if bad is not None else sum((r for r in read if r is not None), Decimal(0))
        out[name] = as_float(total) if name.endswith("avg_time_watched_actions") else integer(total)
    return out


def own_row(
    table: str, doc: Mapping[str, Any], converter: Converter | None = None
) -> tuple[Any, ...]:
    """The row of ``table`` for one mirror document."""
    values: dict[str, Any] = {name: doc.get(name) for name in TABLES[table].names}
    values["id"] = str(doc.get("meta_id") or doc.get("_id"))
    if table == "metasync_report_rows":
        values.update(_metrics(doc, doc.get("date_start"), converter))
        values["date_start"], values["date_stop"] = (
            _day(doc.get("date_start")),
            _day(doc.get("date_stop")),
        )
        values["conversions_by_window"] = _decimals(doc.get("conversions_by_window"))
        values["revenue_by_window"] = _decimals(doc.get("revenue_by_window"))
        values["breakdowns"] = doc.get("breakdowns") or None
    elif table == "metasync_daily_insights":
        values.update(_metrics(doc, doc.get("date"), converter))
        values["date"] = _day(doc.get("date"))
        values.update(_video(doc))
    elif table == "metasync_reconciliations":
        values["date"] = _day(doc.get("date"))
    elif table == "metasync_optimizer_audit":
        values["by"] = doc.get("by")
    for name in ("actions", "action_values"):
        if name in values:
            values[name] = doc.get(name) or None
    return tuple(values[n] for n in TABLES[table].names)
