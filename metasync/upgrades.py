"""Data changes a new metasync makes once to a mirror an earlier one wrote.

:func:`apply_upgrades` runs at start with the indexes; each upgrade is recorded in
``applied_upgrades`` when it has finished, so later starts cost one indexed read. An upgrade is
idempotent: two processes starting together, or one killed halfway, run it again safely.

- ``split_placement_report``: the prebuilt ``placement`` report was platform x position x
  device until Meta made the device breakdown opt-in (2026-08-03); it is now platform x
  position, and the device split is ``placement_device``. Rows written under the old definition
  carry an ``impression_device`` value: they are ``placement_device``'s rows, and are moved
  there (left under ``placement`` they would double its totals). A tenant that read
  ``placement`` gets ``placement_device`` switched on, so it keeps what it had.
- ``account_health_records``: the overview, the API's health and ``/metrics`` read one health
  document per account (:mod:`metasync.health.records`); a mirror written before they existed
  gets them for every tenant once, rather than showing no accounts until each one's next run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from mongoengine.errors import NotUniqueError

from metasync.health.records import refresh_health
from metasync.models import AppliedUpgrade, MetaConnection, ReportRow, TenantReport, utcnow

__all__ = ["account_health_records", "apply_upgrades", "split_placement_report"]


def split_placement_report() -> int:
    """Move the old ``placement`` rows to ``placement_device``; returns the rows moved."""
    moved = ReportRow.objects(report="placement", breakdowns__impression_device__exists=True)
    count = int(moved.update(set__report="placement_device"))
    for tenant in TenantReport.objects(name="placement", enabled=True).only("tenant_id"):
        TenantReport.objects(tenant_id=tenant.tenant_id, name="placement_device").update_one(
            upsert=True, set_on_insert__enabled=True, set_on_insert__updated_at=utcnow()
        )
    return count


def account_health_records() -> int:
    """Write the health record of every account of every tenant; returns the records."""
    return sum(refresh_health(t) for t in MetaConnection.objects.distinct("tenant_id"))


UPGRADES: dict[str, Callable[[], object]] = {
    "split_placement_report": split_placement_report,
    "account_health_records": account_health_records,
}


def apply_upgrades() -> list[str]:
    """Run every upgrade this mirror has not had yet; returns the names run."""
    done = {u.name for u in AppliedUpgrade.objects.only("name")}
    ran = []
    for name, upgrade in UPGRADES.items():
        if name in done:
            continue
        upgrade()
        with contextlib.suppress(NotUniqueError):  # another process finished it as well
            AppliedUpgrade(name=name).save()
        ran.append(name)
    return ran
