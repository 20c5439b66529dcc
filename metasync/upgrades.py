"""Data changes a new metasync makes once to a mirror an earlier one wrote (idempotent; run at
start with the indexes).

- The prebuilt ``placement`` report was platform x position x device until Meta made the device
  breakdown opt-in (2026-08-03); it is now platform x position, and the device split is
  ``placement_device``. Rows written under the old definition carry an ``impression_device``
  value: they are ``placement_device``'s rows, and are moved there (left under ``placement``
  they would double its totals). A tenant that read ``placement`` gets ``placement_device``
  switched on once, so it keeps what it had; switching it off later is kept.
"""

from __future__ import annotations

from metasync.models import ReportRow, TenantReport, utcnow

__all__ = ["split_placement_report"]


def split_placement_report() -> int:
    """Move the old ``placement`` rows to ``placement_device``; returns the rows moved."""
    moved = ReportRow.objects(report="placement", breakdowns__impression_device__exists=True)
    count = int(moved.update(set__report="placement_device"))
    for tenant in TenantReport.objects(name="placement", enabled=True).only("tenant_id"):
        if TenantReport.objects(tenant_id=tenant.tenant_id, name="placement_device").first():
            continue
        TenantReport.objects(tenant_id=tenant.tenant_id, name="placement_device").update_one(
            upsert=True, set_on_insert__enabled=True, set_on_insert__updated_at=utcnow()
        )
    return count
