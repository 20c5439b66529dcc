"""The reports each tenant reads, kept in MongoDB (``tenant_reports``)."""

from __future__ import annotations

from collections.abc import Sequence

from mongoengine.errors import NotUniqueError

from metasync.models import TenantReport, utcnow
from metasync.reports.definitions import PREBUILT, ReportDefinition
from metasync.reports.validation import ReportError, check

__all__ = [
    "add_custom",
    "definitions",
    "enabled_reports",
    "listing",
    "remove",
    "set_enabled",
]


def add_custom(tenant_id: str, report: ReportDefinition) -> ReportDefinition:
    """Store a tenant's custom report (enabled), after validating it; an existing name is
    refused (remove it first)."""
    check(report)
    try:
        TenantReport(tenant_id=tenant_id, name=report.name, definition=report.as_dict()).save()
    except NotUniqueError:
        raise ReportError(
            f"tenant {tenant_id} already has a report named {report.name!r}"
        ) from None
    return report


def set_enabled(tenant_id: str, name: str, enabled: bool) -> None:
    """Switch a prebuilt report on or off for a tenant, or a custom one."""
    if name not in PREBUILT:
        updated = TenantReport.objects(tenant_id=tenant_id, name=name).update(
            set__enabled=enabled, set__updated_at=utcnow()
        )
        if not updated:
            raise ReportError(_unknown(name))
        return
    TenantReport.objects(tenant_id=tenant_id, name=name).update_one(
        upsert=True, set__enabled=enabled, set__updated_at=utcnow()
    )


def remove(tenant_id: str, name: str) -> None:
    """Delete a custom report (its rows stay), or switch a prebuilt one off."""
    if name in PREBUILT:
        set_enabled(tenant_id, name, False)
        return
    if not TenantReport.objects(tenant_id=tenant_id, name=name).delete():
        raise ReportError(f"tenant {tenant_id} has no custom report named {name!r}")


def _unknown(name: str) -> str:
    return f"no report named {name!r}: prebuilt ones are {', '.join(PREBUILT)}"


def _definition(stored: TenantReport) -> ReportDefinition:
    if stored.name in PREBUILT:
        return PREBUILT[stored.name]
    return ReportDefinition.from_dict({**stored.definition, "name": stored.name})


def enabled_reports(tenant_id: str) -> list[ReportDefinition]:
    """The reports a tenant's performance runs read (one indexed query)."""
    return [
        _definition(stored)
        for stored in TenantReport.objects(tenant_id=tenant_id, enabled=True).order_by("name")
    ]


def definitions(tenant_id: str, names: Sequence[str]) -> list[ReportDefinition]:
    """The definitions of ``names`` for a subtask; a report removed since the run was planned
    raises :class:`ReportError` naming it."""
    stored = {
        report.name: report
        for report in TenantReport.objects(tenant_id=tenant_id, name__in=list(names))
    }
    found = []
    for name in names:
        if name in PREBUILT:
            found.append(PREBUILT[name])
        elif name in stored:
            found.append(_definition(stored[name]))
        else:
            raise ReportError(f"report {name!r} of tenant {tenant_id} no longer exists")
    return found


def listing(tenant_id: str) -> list[tuple[ReportDefinition, bool, bool]]:
    """A tenant's reports for ``metasync reports list``: (definition, enabled, custom), the
    prebuilt ones first."""
    stored = {report.name: report for report in TenantReport.objects(tenant_id=tenant_id)}
    rows = [
        (report, bool(stored[name].enabled) if name in stored else False, False)
        for name, report in PREBUILT.items()
    ]
    rows += [
        (_definition(report), bool(report.enabled), True)
        for name, report in sorted(stored.items())
        if name not in PREBUILT
    ]
    return rows
