"""The matured streams kept between evaluations (:class:`~metasync.models.OptimizerStream`):
read once per evaluation, advanced by the days that matured since the last one
(:func:`metasync.optimize.stream.next_stream`), written back in one bulk write of those that
moved, each over the stream this evaluation read, so a concurrent one that moved it first wins
(it wrote the same matured days).
"""

from __future__ import annotations

from datetime import date

from pymongo import UpdateOne

from metasync.models import OptimizerStream, utcnow
from metasync.optimize.decisions import DayFigures, Subject
from metasync.optimize.stream import Stream, matured_through, next_stream

__all__ = ["advance_streams"]


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
        for doc in OptimizerStream.objects(tenant_id=tenant_id).only(
            "level", "entity_id", "start", "through", "spend", "conversions", "revenue", "days"
        )
    }
    streams: dict[tuple[str, str], Stream] = {}
    writes = []
    for subject in subjects:
        newest = through.get(subject.account_id)
        if newest is None:
            continue
        key = (subject.level, subject.entity_id)
        doc = stored.get(key)
        current = (
            Stream(doc.start, doc.through, doc.spend, doc.conversions, doc.revenue, doc.days)
            if doc is not None
            else None
        )
        changed_on = subject.changed_at.date() if subject.changed_at is not None else None
        stream = next_stream(
            current, rows.get(key, []), matured_through(newest, subject.maturity_days), changed_on
        )
        if stream is None:
            continue
        streams[key] = stream
        if stream != current:
            writes.append(_stream_write(tenant_id, key, current, stream))
    if writes:
        OptimizerStream._get_collection().bulk_write(writes, ordered=False)
    return streams


def _stream_write(
    tenant_id: str, key: tuple[str, str], before: Stream | None, after: Stream
) -> UpdateOne:
    """Store ``after`` only over the stream this evaluation read (a concurrent one that moved
    it first wins: it wrote the same matured days)."""
    where: dict[str, object] = {"tenant_id": tenant_id, "level": key[0], "entity_id": key[1]}
    if before is not None:
        where.update(start=before.start, through=before.through)
    fields = {
        "start": after.start, "through": after.through, "spend": after.spend,
        "conversions": after.conversions, "revenue": after.revenue, "days": after.days,
        "updated_at": utcnow(),
    }  # fmt: skip
    return UpdateOne(where, {"$set": fields}, upsert=before is None)
