"""Data changes a new metasync makes once to a mirror an earlier one wrote.

:func:`apply_upgrades` runs at start with the indexes; each upgrade is recorded in
``applied_upgrades`` when it has finished, so later starts cost one indexed read. An upgrade is
idempotent: two processes starting together, or one killed halfway, run it again safely.

- ``split_placement_report``: the prebuilt ``placement`` report was platform x position x
  device until Meta made the device breakdown opt-in (2026-08-03); it is now platform x
  position, and the device split is ``placement_device``. Rows written under the old definition
  carry an ``impression_device`` value: they are ``placement_device``'s rows, and are moved
  there (left under ``placement`` they would double its totals), each account's under a new
  write number, with their old keys recorded as removed (:mod:`metasync.models.deletions`), so
  the next warehouse export deletes the old ``placement`` rows and writes them under their new
  report. A tenant that read ``placement`` gets ``placement_device`` switched on, so it keeps
  what it had.
- ``account_health_records``: the overview, the API's health and ``/metrics`` read one health
  document per account (:mod:`metasync.health.records`); a mirror written before they existed
  gets them for every tenant once, rather than showing no accounts until each one's next run.
- ``drop_fetched_at_indexes``: the warehouse export read daily and report rows by the writers'
  clocks (``fetched_at``); it reads them by write number now (:mod:`metasync.models.numbering`),
  so the old indexes only cost every write. Rows written before have no number: the export
  numbers each account's when it first reads it (no start-up pass over the mirror).
- ``currency_history``: an earlier metasync converted only the days an export sent after the
  reporting currency was set; every tenant with one gets all its days sent again (a rebuild,
  :mod:`metasync.export.rebuild`, run by its next export).
- ``export_secrets``: an earlier metasync could keep a destination URL's password in plain text
  when its label was made wrongly: in an export lease's ``_id`` (``tenant|label``), an export
  target's ``label``, and an export run's ``destination`` and ``error``. Old-format leases are
  deleted (a lease is only a turn: the next export takes a new one); each target's label is
  made again from its decrypted URL by today's parser, or is :data:`UNREADABLE_LABEL` with the
  reason when the URL no longer decrypts or parses (the operator enters it again); the runs of
  a target's tenant get its new label where they named the old one or hold the URL's secret,
  and their errors are redacted with the URL. Runs to a destination no target stores (``export
  run --to``) cannot be redacted without their URL: they go with ``RUN_RETENTION_DAYS``. It
  needs the export's parser and the encryption keys, which sit above this module, so the
  export registers it (:func:`register`, :mod:`metasync.export.upgrade`) and it runs in the
  first process that has loaded the export (the worker, the web app, ``metasync export``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from mongoengine.errors import NotUniqueError
from pymongo.errors import OperationFailure

from metasync.health.records import refresh_health
from metasync.models import (
    AppliedUpgrade,
    DailyInsight,
    ExportRun,
    ExportTarget,
    MetaConnection,
    ReportRow,
    TenantReport,
    TenantSettings,
    request_rebuild,
    utcnow,
)
from metasync.models.deletions import SOURCES, record_removed
from metasync.models.numbering import under_number

__all__ = [
    "account_health_records",
    "apply_upgrades",
    "currency_history",
    "drop_fetched_at_indexes",
    "export_secrets",
    "register",
    "split_placement_report",
]

log = logging.getLogger(__name__)

UNREADABLE_LABEL = "(destination needs to be entered again: {why})"


OLD_PLACEMENT = {"report": "placement", "breakdowns.impression_device": {"$exists": True}}


def split_placement_report() -> int:
    """Move the old ``placement`` rows to ``placement_device``; returns the rows moved. Each
    account's rows move under one write number, which also numbers the record of their old
    keys (:func:`metasync.models.deletions.record_removed`): the export deletes the old
    ``placement`` rows from the warehouse and writes them under ``placement_device``."""
    rows = ReportRow._get_collection()
    accounts = rows.aggregate(
        [
            {"$match": OLD_PLACEMENT},
            {"$group": {"_id": {"tenant": "$tenant_id", "account": "$account_id"}}},
        ]
    )
    count = 0
    for found in accounts:
        tenant, account = found["_id"]["tenant"], found["_id"]["account"]
        count += under_number(tenant, account, partial(_move_placement, tenant, account))
    for tenant in TenantReport.objects(name="placement", enabled=True).only("tenant_id"):
        TenantReport.objects(tenant_id=tenant.tenant_id, name="placement_device").update_one(
            upsert=True, set_on_insert__enabled=True, set_on_insert__updated_at=utcnow()
        )
    return count


def _move_placement(tenant_id: str, account_id: str, seq: int) -> int:
    """One account's old ``placement`` rows recorded as removed and moved, under ``seq``."""
    rows = ReportRow._get_collection()
    mine = {**OLD_PLACEMENT, "tenant_id": tenant_id, "account_id": account_id}
    fields = dict.fromkeys(SOURCES["reports"], 1)
    record_removed(tenant_id, account_id, "reports", list(rows.find(mine, fields)), seq)
    moved = rows.update_many(mine, {"$set": {"report": "placement_device", "seq": seq}})
    return int(moved.modified_count)


def account_health_records() -> int:
    """Write the health record of every account of every tenant; returns the records."""
    return sum(refresh_health(t) for t in MetaConnection.objects.distinct("tenant_id"))


INDEX_NOT_FOUND = 27  # MongoDB's error code


def drop_fetched_at_indexes() -> int:
    """Drop the (tenant, account, fetched_at) indexes; returns how many there were."""
    dropped = 0
    for model in (DailyInsight, ReportRow):
        collection = model._get_collection()
        name = "tenant_id_1_account_id_1_fetched_at_1"
        if name not in collection.index_information():
            continue
        try:
            collection.drop_index(name)
        except OperationFailure as exc:
            if exc.code != INDEX_NOT_FOUND:
                raise
            continue  # another process starting dropped it first
        dropped += 1
    return dropped


def currency_history() -> int:
    """Ask for every stored day of each converting tenant to be exported again; returns the
    tenants."""
    tenants = TenantSettings.objects(reporting_currency__ne=None).distinct("tenant_id")
    for tenant in tenants:
        request_rebuild(tenant, None, "an earlier metasync converted only the days it exported")
    return len(tenants)


def export_secrets(url_of: Callable[[Any], str], parse: Callable[[str], Any]) -> int:
    """Remove destination passwords an earlier metasync stored in plain text (see the module's
    ``export_secrets``); returns the documents changed. ``url_of``: an export target's
    decrypted URL; ``parse``: :func:`metasync.export.destinations.parse` (a ``label`` and a
    ``redact``). Idempotent: a second run finds nothing to change."""
    leases = ExportRun._get_db()["export_leases"]
    changed = int(leases.delete_many({"_id": {"$regex": r"\|"}}).deleted_count)  # tenant|label
    for target in ExportTarget.objects:
        old = target.label
        try:
            destination = parse(url_of(target))
        except ValueError:  # metasync.export's DestinationError: the message names no secret
            destination, why = None, "its stored URL is not one this metasync can use"
        except Exception as exc:  # noqa: BLE001 - a retired key: named, never the URL
            destination, why = None, f"its stored URL cannot be decrypted ({type(exc).__name__})"
        label = destination.label if destination is not None else UNREADABLE_LABEL.format(why=why)
        if label != old:
            ExportTarget.objects(pk=target.pk).update_one(set__label=label)
            changed += 1
            if destination is None:
                log.warning("export target of tenant %s: %s", target.tenant_id, why)
        if destination is None:
            continue
        for run in ExportRun.objects(tenant_id=target.tenant_id).only("destination", "error"):
            named = run.destination in (old, label) or destination.redact(run.destination) != (
                run.destination
            )
            update: dict[str, str] = {}
            if named and run.destination != label:
                update["set__destination"] = label
            if run.error and destination.redact(run.error) != run.error:
                update["set__error"] = destination.redact(run.error)
            if update:
                ExportRun.objects(pk=run.pk).update_one(**update)
                changed += 1
    return changed


UPGRADES: dict[str, Callable[[], object]] = {
    "split_placement_report": split_placement_report,
    "account_health_records": account_health_records,
    "drop_fetched_at_indexes": drop_fetched_at_indexes,
    "currency_history": currency_history,
}


def register(name: str, upgrade: Callable[[], object]) -> None:
    """Add an upgrade a higher layer provides (it needs what this module may not import); it
    runs after the others, in the first process that registered it."""
    UPGRADES.setdefault(name, upgrade)


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
