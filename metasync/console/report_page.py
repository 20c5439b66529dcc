"""What the console's report page shows: one account's rows of each report its tenant has
enabled, for a period of days (no HTML here).

A row is shown as Meta answered it: its days, the entity with its name beside its Meta id, the
breakdown values, and the figures (spend and revenue in major units of the account's
currency). Rows are ordered by day, level, entity and breakdown, :data:`PAGE_SIZE` a page;
a page is one indexed query (``tenant_id, report, account_id, span``) and one per kind of name.
A whole-range report's rows (``span`` ``all_days``) belong to every period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from metasync.models import Ad, AdSet, Campaign, ReportRow
from metasync.reports.store import enabled_reports

__all__ = ["PAGE_SIZE", "ReportPage", "period", "report_page"]

PAGE_SIZE = 50
DEFAULT_DAYS = 7
WHOLE_RANGE = "all_days"
NAMED = {"campaign": Campaign, "adset": AdSet, "ad": Ad}


@dataclass
class ReportPage:
    """One page of one report's rows; ``reports``: the tenant's enabled reports (names)."""

    reports: list[str]
    report: str | None
    since: str
    until: str
    rows: list[ReportRow] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    page: int = 1
    more: bool = False


def _names(tenant_id: str, rows: list[ReportRow]) -> dict[str, str]:
    names: dict[str, str] = {}
    for level, document in NAMED.items():
        wanted = sorted({r.entity_id for r in rows if r.level == level})
        if wanted:
            for found in document.objects(tenant_id=tenant_id, meta_id__in=wanted).only(
                "meta_id", "name"
            ):
                names[found.meta_id] = found.name or ""
    return names


def period(since: str | None, until: str | None, today: date) -> tuple[str, str]:
    """The days asked for; by default the :data:`DEFAULT_DAYS` days up to yesterday. Raises
    ``ValueError`` naming a day that is not ``YYYY-MM-DD`` or a period that runs backwards."""
    last = date.fromisoformat(until) if until else today - timedelta(days=1)
    first = date.fromisoformat(since) if since else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValueError(f"since {first} is after until {last}")
    return first.isoformat(), last.isoformat()


def report_page(
    tenant_id: str,
    account_id: str,
    report: str | None,
    since: str,
    until: str,
    page: int = 1,
) -> ReportPage:
    """``report``'s rows (the first enabled report when None or not enabled) of the account in
    ``since``..``until``."""
    reports = [r.name for r in enabled_reports(tenant_id)]
    chosen = report if report in reports else (reports[0] if reports else None)
    found = ReportPage(reports, chosen, since, until, page=page)
    if chosen is None:
        return found
    rows = list(
        ReportRow.objects(
            __raw__={
                "tenant_id": tenant_id,
                "report": chosen,
                "account_id": account_id,
                "$or": [{"span": {"$gte": since, "$lte": until}}, {"span": WHOLE_RANGE}],
            }
        )
        .order_by("span", "level", "entity_id", "breakdown_key")
        .skip((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    found.more, found.rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    found.names = _names(tenant_id, found.rows)
    return found
