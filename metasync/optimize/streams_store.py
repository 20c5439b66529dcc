"""The matured streams kept between evaluations (:class:`~metasync.models.OptimizerStream`):
read once per evaluation, advanced by the days that matured since the last one
(:func:`metasync.optimize.dispersion.advance_stream`, each new day with its account's
day-to-day variation estimated from the days before it), written back in one bulk write of
those that moved, each over the stream this evaluation read, so a concurrent one that moved it
first wins (it wrote the same matured days).

A stream stored before the variation was recorded (no ``spread``) restarts the day after its
last day: its totals hold days whose variation was never fixed before they were read, and
adding one after the fact would not be predictable, so the cost test could not keep its bound
over them.
"""

from __future__ import annotations

from datetime import date

from pymongo import UpdateOne

from metasync.models import OptimizerStream, utcnow
from metasync.optimize.decisions import DayFigures, Subject
from metasync.optimize.dispersion import account_sources, advance_stream
from metasync.optimize.stream import Stream, matured_through

__all__ = ["advance_streams"]

FIELDS = (
    "level",
    "entity_id",
    "start",
    "through",
    "spend",
    "conversions",
    "revenue",
    "days",
    "spread",
    "recent",
)


def _stored(doc: OptimizerStream) -> tuple[Stream | None, date | None]:
    """The stored stream, or (None, the day it must restart after) for one stored before
    the day-to-day variation was recorded."""
    if doc.spread is None:
        last = date.fromisoformat(doc.through) if doc.through else None
        return None, last
    recent = tuple(
        (str(d[0]), float(d[1]), int(d[2]), float(d[3]), float(d[4])) for d in doc.recent or []
    )
    stream = Stream(
        doc.start,
        doc.through,
        doc.spend,
        doc.conversions,
        doc.revenue,
        doc.days,
        doc.spread,
        recent,
    )
    return stream, None


def advance_streams(
    tenant_id: str,
    subjects: list[Subject],
    rows: dict[tuple[str, str], list[DayFigures]],
    through: dict[str, date],
) -> dict[tuple[str, str], Stream]:
    """Each subject's matured stream, advanced by the days that matured since the last
    evaluation and stored (one read, one bulk write of those that moved)."""
    stored = {
        (doc.level, doc.entity_id): doc
        for doc in OptimizerStream.objects(tenant_id=tenant_id).only(*FIELDS)
    }
    sources = account_sources(
        (s.account_id, s.level, rows.get((s.level, s.entity_id), [])) for s in subjects
    )
    streams: dict[tuple[str, str], Stream] = {}
    writes = []
    for subject in subjects:
        newest = through.get(subject.account_id)
        if newest is None:
            continue
        key = (subject.level, subject.entity_id)
        doc = stored.get(key)
        current, restart_after = _stored(doc) if doc is not None else (None, None)
        changed_on = subject.changed_at.date() if subject.changed_at is not None else None
        if restart_after is not None and (changed_on is None or changed_on < restart_after):
            changed_on = restart_after  # an old stream: start over the day after it
        stream = advance_stream(
            current,
            rows.get(key, []),
            matured_through(newest, subject.maturity_days),
            sources[(subject.account_id, subject.level)],
            changed_on,
        )
        if stream is None:
            continue
        streams[key] = stream
        if stream != current:
            writes.append(_stream_write(tenant_id, key, doc, stream))
    if writes:
        OptimizerStream._get_collection().bulk_write(writes, ordered=False)
    return streams


def _stream_write(
    tenant_id: str, key: tuple[str, str], before: OptimizerStream | None, after: Stream
) -> UpdateOne:
    """Store ``after`` only over the stream this evaluation read (a concurrent one that moved
    it first wins: it wrote the same matured days)."""
    where: dict[str, object] = {"tenant_id": tenant_id, "level": key[0], "entity_id": key[1]}
    if before is not None:
        where.update(start=before.start, through=before.through)
    fields = {
        "start": after.start,
        "through": after.through,
        "spend": after.spend,
        "conversions": after.conversions,
        "revenue": after.revenue,
        "days": after.days,
        "spread": after.spread,
        "recent": [list(day) for day in after.recent],
        "updated_at": utcnow(),
    }
    return UpdateOne(where, {"$set": fields}, upsert=before is None)
