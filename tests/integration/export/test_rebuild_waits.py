"""A rebuild of past days waits for an export that read the currency before the request, and
for no other: not for a run whose worker died (its lease expired), and not by comparing the
clocks of the worker that asked and the worker that exports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from metasync.config import Settings
from metasync.export import export_tenant, rebuild
from metasync.export.lease import Lease
from metasync.models import ExportRun, utcnow
from metasync.models import tenant as tenant_records
from metasync.models.numbering import server_time
from metasync.sync import SyncContext
from tests.integration.export.one_account import TENANT, account_writer
from tests.integration.export.test_write_order import items, write


@pytest.fixture
def writer(settings: Settings, mongo: str) -> SyncContext:
    ctx = account_writer(settings)
    for day in ("2026-11-01", "2026-11-02"):
        write(ctx, items(["1", "2"], day, "1.00"))
    return ctx


def test_an_export_whose_worker_died_does_not_hold_a_rebuild_back(
    writer: SyncContext, postgres_url: str
) -> None:
    export_tenant(TENANT, postgres_url)
    dead = Lease(TENANT, "another-destination", 60, "another destination")
    dead.take()  # an export to another destination, started long ago; its worker died
    dead.note_rebuild(rebuild.generation(TENANT))
    ExportRun(tenant_id=TENANT, destination="another destination", status="running").save()
    ExportRun.objects(destination="another destination").update(
        set__started_at=utcnow() - timedelta(hours=2)
    )
    dead.collection.update_one(
        {"_id": dead.key}, {"$set": {"expires_at": server_time() - timedelta(minutes=1)}}
    )
    rebuild.request(TENANT, None, "currency set")
    done = export_tenant(TENANT, postgres_url).rebuilt
    assert done.deferred is None and done.days == 2
    assert rebuild.pending(TENANT) is None


def test_a_request_stamped_by_a_fast_clock_is_rebuilt_by_the_next_export(
    writer: SyncContext, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tenant_records, "utcnow", lambda: utcnow() + timedelta(minutes=10))
    rebuild.request(TENANT, None, "currency set by a worker whose clock is fast")
    monkeypatch.setattr(tenant_records, "utcnow", utcnow)
    done = export_tenant(TENANT, postgres_url).rebuilt
    assert done.deferred is None and done.days == 2


def test_an_export_that_read_the_currency_before_the_request_holds_it_back(
    writer: SyncContext,
) -> None:
    older = Lease(TENANT, "another-destination", 60, "another destination")
    older.take()
    older.note_rebuild(rebuild.generation(TENANT))  # it read the currency: no request yet
    rebuild.request(TENANT, None, "currency set")
    assert rebuild.resume(TENANT).deferred is not None
    newer = Lease(TENANT, "a third destination", 60, "a third destination")
    newer.take()
    newer.note_rebuild(rebuild.generation(TENANT))  # started after: not waited for
    assert rebuild.resume(TENANT).deferred is not None  # the older one still runs
    older.collection.update_one(  # by the server's clock, the older one's lease ran out
        {"_id": older.key}, {"$set": {"expires_at": server_time() - timedelta(seconds=1)}}
    )
    done = rebuild.resume(TENANT)
    assert done.deferred is None and done.days == 2
