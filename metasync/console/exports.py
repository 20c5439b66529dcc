"""What the console's export pages show: each tenant's warehouse destination and its exports,
gathered from ``export_targets`` and ``export_runs`` (no HTML here).

A destination is shown by its target's ``label`` only, never by its URL: the URL may hold a
password and is kept encrypted; the label is made without one, and a run's ``error`` was
redacted before it was stored (:mod:`metasync.export.run`). These pages decrypt nothing.

Costs, at any number of tenants and runs:

- the list is one aggregation: a page of :data:`PAGE_SIZE` targets in tenant order, each
  joined with its tenant's newest run (a ``$lookup`` limited to one run, on the
  ``(tenant_id, started_at)`` index; the ``localField`` form with a pipeline needs MongoDB
  5.0 or later);
- a tenant's page is two finds: its target, and its newest :data:`TENANT_RUNS` runs to any
  destination (an export run from the command line with ``--to`` is listed there too, under
  its own label).

The trade-off: the list shows tenants with a stored destination only; a tenant that exported
only from the command line has no row there, and its page (``/console/exports/<tenant>``)
still lists those runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metasync.export import schema_for
from metasync.models import ExportRun, ExportTarget

__all__ = [
    "PAGE_SIZE",
    "TENANT_RUNS",
    "ExportRow",
    "ExportsPage",
    "TenantDestination",
    "exports_page",
    "tenant_exports",
]

PAGE_SIZE = 50
TENANT_RUNS = 20


@dataclass(frozen=True)
class ExportRow:
    """One export as a page shows it. ``rows``: rows added, changed or removed per table,
    largest first; ``cleaned``: characters the destination refuses, removed, per table;
    ``rejected``: rows set aside (the destination cannot hold them), named, and how many."""

    destination: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    rows: list[tuple[str, int]] = field(default_factory=list)
    cleaned: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None
    rejected: list[str] = field(default_factory=list)
    rejected_count: int = 0

    @property
    def total_rows(self) -> int:
        return sum(count for _, count in self.rows)

    @property
    def seconds(self) -> float | None:
        """How long the export took (None while it runs)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class TenantDestination:
    """A tenant's stored destination and the newest export of the tenant (None: never).
    ``schema``: where the exports after each sync write (the tenant's default schema: the
    name to give dbt's ``facebook_ads_union_schemas``)."""

    tenant_id: str
    label: str
    schema: str
    enabled: bool
    updated_at: datetime | None
    last: ExportRow | None


@dataclass(frozen=True)
class ExportsPage:
    destinations: list[TenantDestination]
    page: int
    more: bool


def _counts(values: Any) -> list[tuple[str, int]]:
    """A run's per-table counts, largest first (non-numbers left out)."""
    found = [(str(k), int(v)) for k, v in (values or {}).items() if isinstance(v, int | float)]
    return sorted(found, key=lambda item: (-item[1], item[0]))


def _row(run: dict[str, Any]) -> ExportRow:
    return ExportRow(
        destination=str(run.get("destination") or ""),
        status=str(run.get("status") or ""),
        started_at=run.get("started_at"),
        finished_at=run.get("finished_at"),
        rows=_counts(run.get("rows")),
        cleaned=_counts(run.get("cleaned")),
        error=run.get("error"),
        rejected=[str(name) for name in run.get("rejected") or []],
        rejected_count=int(run.get("rejected_count") or 0),
    )


def exports_page(page: int = 1) -> ExportsPage:
    """One page of the tenants with a stored destination, each with its newest export (one
    MongoDB command)."""
    runs = ExportRun._get_collection().name
    pipeline: list[dict[str, Any]] = [
        {"$sort": {"tenant_id": 1}},
        {"$skip": (page - 1) * PAGE_SIZE},
        {"$limit": PAGE_SIZE + 1},
        {"$project": {"url_envelope": 0}},  # the URL, even encrypted, never leaves MongoDB
        {
            "$lookup": {
                "from": runs,
                "localField": "tenant_id",
                "foreignField": "tenant_id",
                "pipeline": [{"$sort": {"started_at": -1}}, {"$limit": 1}],
                "as": "last",
            }
        },
    ]
    found = list(ExportTarget._get_collection().aggregate(pipeline))
    destinations = [
        TenantDestination(
            tenant_id=target["tenant_id"],
            label=target.get("label") or "",
            schema=schema_for(target["tenant_id"]),
            enabled=bool(target.get("enabled", True)),
            updated_at=target.get("updated_at"),
            last=_row(target["last"][0]) if target.get("last") else None,
        )
        for target in found[:PAGE_SIZE]
    ]
    return ExportsPage(destinations, page, more=len(found) > PAGE_SIZE)


def tenant_exports(tenant_id: str) -> tuple[TenantDestination | None, list[ExportRow]]:
    """The tenant's stored destination (None: none stored) and its newest exports, newest
    first (two MongoDB finds)."""
    target = ExportTarget.objects(tenant_id=tenant_id).exclude("url_envelope").first()
    runs = [
        _row(run.to_mongo().to_dict())
        for run in ExportRun.objects(tenant_id=tenant_id).order_by("-started_at").limit(TENANT_RUNS)
    ]
    destination = None
    if target is not None:
        destination = TenantDestination(
            tenant_id=tenant_id,
            label=target.label,
            schema=schema_for(tenant_id),
            enabled=bool(target.enabled),
            updated_at=target.updated_at,
            last=runs[0] if runs else None,
        )
    return destination, runs
