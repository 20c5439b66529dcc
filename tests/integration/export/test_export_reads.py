"""What an export reads after a rebuild unnumbered an account's whole history: documents read
grow with the rows, not with their square over the batch size. Counted on the wire (a
pymongo command listener on the export's own client), so re-reads filtered in Python count."""

from __future__ import annotations

from typing import Any

import mongoengine
import pytest
from pymongo import monitoring

from metasync import db
from metasync.export import export_tenant
from metasync.models import AdAccount, DailyInsight, MetaConnection, upsert_page
from metasync.sync import SyncContext
from metasync.sync.write.insight_rows import write_rows

TENANT = "acme"
ACCOUNT = "101"
ROWS = 400  # one account's history, unnumbered at once (as a rebuild leaves it)
BATCH = 10  # documents per export transaction: small, so re-reads would show


class DocumentsRead(monitoring.CommandListener):
    """Documents the server returned from ``find`` and ``getMore`` on one collection, while
    ``counting``."""

    def __init__(self, collection: str) -> None:
        self.collection, self.count, self.counting = collection, 0, False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        return None

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if not self.counting or event.command_name not in ("find", "getMore"):
            return
        cursor: dict[str, Any] = event.reply.get("cursor") or {}
        if str(cursor.get("ns", "")).rsplit(".", 1)[-1] == self.collection:
            self.count += len(cursor.get("firstBatch") or cursor.get("nextBatch") or [])

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


@pytest.fixture
def listened(mongo_uri: str, mongo: str) -> DocumentsRead:
    """The default connection again, to the same test database, with a listener counting the
    daily rows read."""
    listener = DocumentsRead(DailyInsight._get_collection_name())
    db.disconnect()
    mongoengine.connect(
        db=mongo,
        host=mongo_uri,
        alias=mongoengine.DEFAULT_CONNECTION_NAME,
        tz_aware=True,
        uuidRepresentation="standard",
        event_listeners=[listener],
    )
    return listener  # the mongo fixture disconnects it and drops the database


def test_an_unnumbered_history_is_read_in_linear_documents(
    settings: Any, listened: DocumentsRead, postgres_url: str
) -> None:
    upsert_page(
        AdAccount,
        [
            {
                "tenant_id": TENANT,
                "meta_id": f"act_{ACCOUNT}",
                "account_id": ACCOUNT,
                "name": "Acme",
                "currency": "EUR",
            }
        ],
    )
    ctx = SyncContext.from_settings(settings)
    page = [
        {
            "ad_id": str(ad),
            "adset_id": "7",
            "campaign_id": "5",
            "date_start": day,
            "date_stop": day,
            "spend": "1.00",
            "impressions": "100",
            "clicks": "3",
        }
        for ad in range(ROWS // 4)
        for day in ("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04")
    ]
    write_rows(ctx, MetaConnection(tenant_id=TENANT), None, ACCOUNT, "ad", page)
    export_tenant(TENANT, postgres_url, batch_rows=BATCH)
    DailyInsight._get_collection().update_many({}, {"$unset": {"seq": ""}})  # a rebuild's

    listened.counting = True
    result = export_tenant(TENANT, postgres_url, batch_rows=BATCH)
    listened.counting = False

    assert result.numbered["daily"] == ROWS and result.read["daily"] == ROWS
    # the ids numbered (ROWS), every row once (ROWS), and each batch's re-read of the number
    # its mark ends inside (at most BATCH rows a batch: ROWS); one number for all of them
    # read ROWS² / BATCH = 16,000
    assert listened.count <= 3 * ROWS + 2 * BATCH, listened.count
    assert export_tenant(TENANT, postgres_url, batch_rows=BATCH).read["daily"] == 0
