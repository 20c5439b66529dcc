"""Exports take turns: one export of a (tenant, destination) at a time.

Two exports writing one schema at once would each add the same new versions of objects (with
different sync stamps). An export takes a lease first, renews it every batch, and gives it back
at the end; a killed export's lease runs out after ``EXPORT_LEASE_SECONDS``. A lease's ``_id`` is
a digest of the tenant and the destination's key (a digest of what names it, so two spellings
of one destination take one lease; no password), so no text taken from a URL is a key; the
document keeps the tenant id for people.

Expiry is judged by one clock, the MongoDB server's (``hello``'s ``localTime``, as write
numbers are: :mod:`metasync.models.numbering`), never by the exporting worker's: a worker whose
clock is slow would otherwise take over a live lease, and a rebuild of past days
(:mod:`metasync.export.rebuild`) would wait on a dead one. The lease also notes the rebuild
request (``rebuild_generation``) the export saw before reading the tenant's currency.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from metasync import db
from metasync.models.numbering import server_time

__all__ = ["ExportBusy", "ExportError", "Lease"]


class ExportError(RuntimeError):
    """An export failed; the message names the destination, the table or source, the cause."""


class ExportBusy(ExportError):
    """Another export holds this tenant's destination; ``retry_after`` seconds is its lease."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Lease:
    """The one export of a (tenant, destination) at a time: a MongoDB document holding who
    exports and until when (``export_leases``)."""

    def __init__(self, tenant_id: str, destination: str, seconds: int, shown: str = "") -> None:
        """``destination``: its key, what names it whatever its URL's spelling (``key`` of
        :func:`metasync.export.destinations.parse`); ``shown``: its label, for messages."""
        named = f"{tenant_id}\x00{destination}".encode()
        self.key = hashlib.sha256(named).hexdigest()[:32]
        self.tenant_id, self.destination = tenant_id, shown or destination
        self.seconds, self.holder = seconds, uuid.uuid4().hex
        self.collection = db.database()["export_leases"]

    def take(self) -> None:
        now = server_time()
        try:
            self.collection.find_one_and_update(
                {"_id": self.key, "$or": [{"expires_at": {"$lt": now}}, {"holder": None}]},
                {
                    "$set": {
                        "holder": self.holder,
                        "tenant_id": self.tenant_id,
                        "expires_at": now + timedelta(seconds=self.seconds),
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:
            held = self.collection.find_one({"_id": self.key}) or {}
            until = held.get("expires_at") or now
            left = (until.replace(tzinfo=now.tzinfo) - now).total_seconds()
            raise ExportBusy(
                f"another export to {self.destination} is running", max(left, 1.0)
            ) from None

    def renew(self) -> None:
        moved = self.collection.update_one(
            {"_id": self.key, "holder": self.holder},
            {"$set": {"expires_at": server_time() + timedelta(seconds=self.seconds)}},
        )
        if moved.matched_count == 0:
            raise ExportError("the export's lease was taken over: it ran longer than its lease")

    def note_rebuild(self, generation: int) -> None:
        """The tenant's rebuild request this export saw before it read the currency."""
        self.collection.update_one(
            {"_id": self.key, "holder": self.holder}, {"$set": {"rebuild_generation": generation}}
        )

    def release(self) -> None:
        self.collection.update_one(
            {"_id": self.key, "holder": self.holder}, {"$set": {"holder": None}}
        )
