"""The demo never waits in silence: while the warehouse exports run after the first syncs it
shows a progress bar (tenants exported, time waited), and it says when the wait ran out."""

from __future__ import annotations

import threading
from datetime import timedelta

from metasync.commands.common import console
from metasync.commands.demo import _wait_for_exports
from metasync.models import ExportRun, SyncRun, utcnow


def test_the_export_wait_shows_its_progress_and_ends_when_every_tenant_exported(
    mongo: str,
) -> None:
    finished = utcnow() - timedelta(seconds=5)
    for tenant in ("t1", "t2"):
        SyncRun(
            connection_id=f"c-{tenant}",
            tenant_id=tenant,
            kind="performance",
            status="succeeded",
            finished_at=finished,
        ).save()
    ExportRun(tenant_id="t1", destination="duckdb", status="succeeded").save()
    with console.capture() as captured:
        assert not _wait_for_exports(["t1", "t2"], timeout=1.0), "t2 never exported"
    shown = captured.get()
    assert "warehouse exports" in shown and "1/2 tenants" in shown, shown

    later = threading.Timer(
        0.6, lambda: ExportRun(tenant_id="t2", destination="duckdb", status="succeeded").save()
    )
    later.start()
    with console.capture() as captured:
        assert _wait_for_exports(["t1", "t2"], timeout=20.0)
    later.join()
    assert "2/2 tenants" in captured.get()


def test_the_demo_summary_names_each_account_beside_its_id(mongo: str) -> None:
    """Before: both summary tables showed ``act_<id>`` alone."""
    from metasync.commands.common import print_table
    from metasync.commands.demo import _rest_of_account, _summary
    from metasync.models import AdAccount, MetaConnection

    connection = MetaConnection(
        tenant_id="demo-tenant-1", meta_user_id="10001000", ad_account_ids=["900000010000"]
    ).save()
    AdAccount(
        tenant_id="demo-tenant-1",
        meta_id="act_900000010000",
        account_id="900000010000",
        name="Sandbox Account 1.1",
        currency="USD",
    ).save()
    for table in (_summary([connection], {}), _rest_of_account([connection])):
        with console.capture() as captured:
            print_table(table, wrap=("account",))
        shown = captured.get()
        assert "act_900000010000" in shown and "Sandbox Account 1.1" in shown, shown
