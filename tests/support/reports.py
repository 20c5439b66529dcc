"""Comparing report rows in MongoDB with the sandbox's ground truth for a report."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from metasync.models import (
    ReportAccess,
    ReportAccessState,
    ReportRow,
    attribution_key,
    breakdown_key,
)
from metasync.reports.catalogue import needs_opt_in
from metasync.reports.definitions import ReportDefinition
from tests.support.sandbox import Sandbox

LEVEL_ID = {"account": "account_id", "campaign": "campaign_id", "adset": "adset_id", "ad": "ad_id"}
CONVERSION_TYPES = ("purchase", "offsite_conversion.fb_pixel_purchase", "omni_purchase")


def report_truth(
    world: Sandbox, report: ReportDefinition, account_id: str, since: date, until: date
) -> list[dict[str, Any]]:
    return world.report_truth(report.as_dict(), account_id, since.isoformat(), until.isoformat())


def served_truth(
    world: Sandbox, report: ReportDefinition, account_id: str, since: date, until: date
) -> list[dict[str, Any]]:
    """The truth's rows as Meta serves them to metasync: none of an opt-in report (device,
    audience-hour, frequency breakdowns) for an account that has not opted in (2026-08-03),
    where metasync records ``not_opted_in`` instead (checked here too)."""
    opted = {a.removeprefix("act_") for u in world.info["users"] for a in u["opted_in_account_ids"]}
    if needs_opt_in(report.breakdowns) and account_id not in opted:
        access = ReportAccess.objects(account_id=account_id, report=report.name).first()
        assert access is not None and access.state == ReportAccessState.NOT_OPTED_IN, report.name
        return []
    return report_truth(world, report, account_id, since, until)


def _picked(entries: list[dict[str, Any]], key: str) -> Decimal:
    for action_type in CONVERSION_TYPES:
        matching = [e for e in entries if e["action_type"] == action_type]
        if matching:
            return sum((Decimal(e.get(key, "0")) for e in matching), Decimal(0))
    return Decimal(0)


def report_mismatches(
    expected_rows: list[dict[str, Any]], report: ReportDefinition, tenant_id: str, account_id: str
) -> list[str]:
    """Every difference between the truth's rows and the stored ``ReportRow`` documents of one
    report and account: every metric asked for, per window, and no row more or less."""
    problems: list[str] = []
    key_of_span = "all_days" if report.time_increment == "all_days" else None
    expected = {
        (
            r[LEVEL_ID[report.level]],
            key_of_span or r["date_start"],
            breakdown_key({name: r[name] for name in report.breakdowns}),
        ): r
        for r in expected_rows
    }
    stored = {
        (d.entity_id, d.span, d.breakdown_key): d
        for d in ReportRow.objects(tenant_id=tenant_id, account_id=account_id, report=report.name)
    }
    if sorted(expected) != sorted(stored):
        missing, extra = set(expected) - set(stored), set(stored) - set(expected)
        problems.append(
            f"{report.name}: row keys differ: {len(missing)} missing (e.g. {sorted(missing)[:2]}),"
            f" {len(extra)} extra (e.g. {sorted(extra)[:2]})"
        )
    for key, raw in expected.items():
        doc = stored.get(key)
        if doc is None:
            continue
        where = f"{report.name} {key}"
        checks: list[tuple[str, Any, Any]] = [
            ("date_stop", raw["date_stop"], doc.date_stop),
            ("attribution_key", attribution_key(report.attribution_windows), doc.attribution_key),
            ("attribution_setting", raw.get("attribution_setting"), doc.attribution_setting),
        ]
        for name in ("impressions", "clicks", "reach"):
            if name in report.fields:
                wanted = int(raw[name]) if name in raw else None
                checks.append((name, wanted, getattr(doc, name)))
        for name in ("spend", "frequency", "ctr", "cpc", "cpm"):
            if name in report.fields:
                wanted = Decimal(raw[name]) if raw.get(name) is not None else None
                checks.append((name, wanted, getattr(doc, name)))
        if "actions" in report.fields:
            actions = raw.get("actions", [])
            checks.append(("conversions", _picked(actions, "value"), doc.conversions))
            checks.append(("actions", actions, doc.actions))
            for window in report.attribution_windows:
                checks.append(
                    (
                        f"conversions {window}",
                        _picked(actions, window),
                        (doc.conversions_by_window or {}).get(window),
                    )
                )
        if "action_values" in report.fields:
            values = raw.get("action_values", [])
            checks.append(("revenue", _picked(values, "value"), doc.revenue))
            for window in report.attribution_windows:
                checks.append(
                    (
                        f"revenue {window}",
                        _picked(values, window),
                        (doc.revenue_by_window or {}).get(window),
                    )
                )
        for name in report.fields:
            if name.startswith("video_"):
                checks.append((name, raw.get(name), (doc.metrics or {}).get(name)))
        for name, wanted, got in checks:
            if isinstance(got, Decimal) and isinstance(wanted, Decimal):
                same = got == wanted
            else:
                same = wanted == got
            if not same:
                problems.append(f"{where} {name}: expected {wanted!r}, stored {got!r}")
    return problems
