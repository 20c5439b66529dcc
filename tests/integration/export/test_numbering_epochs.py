"""An account's write numbers started again (its sequence document deleted, a mirror restored
from a backup): rows numbered below the export's mark are exported all the same, the account
read again from the start once."""

from __future__ import annotations

import pytest

from metasync.config import Settings
from metasync.export import export_tenant
from metasync.models import DailyInsight, WriteSequence
from metasync.sync import SyncContext
from tests.integration.export.one_account import ACCOUNT, TENANT, account_writer
from tests.integration.export.test_write_order import items, mirror, warehouse, write


@pytest.fixture
def writer(settings: Settings, mongo: str) -> SyncContext:
    return account_writer(settings)


def sequence() -> WriteSequence:
    found: WriteSequence = WriteSequence.objects.get(tenant_id=TENANT, account_id=ACCOUNT)
    return found


def test_rows_written_after_the_sequence_document_was_deleted_are_exported(
    writer: SyncContext, postgres_url: str
) -> None:
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        write(writer, items(["1"], day, "1.00"))
    export_tenant(TENANT, postgres_url)
    first = sequence().epoch
    WriteSequence.objects(tenant_id=TENANT).delete()
    write(writer, items(["2"], "2026-11-04", "2.00"))
    assert sequence().epoch != first and sequence().last == 4  # above the rows' numbers
    export_tenant(TENANT, postgres_url)
    assert warehouse(postgres_url) == mirror() and len(mirror()) == 4


def test_a_new_numbering_below_the_mark_reads_the_account_again_once(
    writer: SyncContext, postgres_url: str
) -> None:
    """A mirror restored from a backup taken before any of the exported rows (the rows and the
    sequence document gone): new numbers pass the old mark before the next export."""
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        write(writer, items(["1"], day, "1.00"))
    export_tenant(TENANT, postgres_url)
    DailyInsight.objects(tenant_id=TENANT).delete()
    WriteSequence.objects(tenant_id=TENANT).delete()
    for day in ("2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08"):
        write(writer, items(["3"], day, "3.00"))  # numbers 1 to 4, past the old mark (3)
    assert sequence().last == 4
    result = export_tenant(TENANT, postgres_url)
    assert result.read["daily"] == 4
    exported = warehouse(postgres_url)
    assert {k: v for k, v in exported.items() if k[1] == "3"} == mirror()
    assert export_tenant(TENANT, postgres_url).read["daily"] == 0  # once


def test_numbers_that_went_back_read_the_account_again(
    writer: SyncContext, postgres_url: str
) -> None:
    """A mirror restored from a backup taken after the first page: the same numbering (its
    epoch), its last number behind the export's mark."""
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        write(writer, items(["1"], day, "1.00"))
    export_tenant(TENANT, postgres_url)
    DailyInsight.objects(tenant_id=TENANT, seq__gt=1).delete()
    WriteSequence.objects(tenant_id=TENANT).update(set__last=1)
    write(writer, items(["4"], "2026-11-09", "4.00"))  # number 2, below the mark (3)
    export_tenant(TENANT, postgres_url)
    assert ("101", "4", "2026-11-09") in warehouse(postgres_url)
    assert export_tenant(TENANT, postgres_url).read["daily"] == 0


def test_a_sequence_of_an_earlier_metasync_keeps_its_marks(
    writer: SyncContext, postgres_url: str
) -> None:
    """A sequence document without an epoch and marks without one agree: nothing is read
    again after the upgrade."""
    write(writer, items(["1"], "2026-11-01", "1.00"))
    WriteSequence.objects(tenant_id=TENANT).update(unset__epoch=True)
    export_tenant(TENANT, postgres_url)
    write(writer, items(["2"], "2026-11-02", "2.00"))
    assert export_tenant(TENANT, postgres_url).read["daily"] == 1
    assert warehouse(postgres_url) == mirror()
