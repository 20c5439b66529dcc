"""What the console's recommendations page shows, in plain words (no HTML, no routes here).

A recommendation is shown as a person decides on it: what it would change (money in major
units with the account's currency, names beside Meta ids), why (its evidence as sentences), what
that evidence promises (its guarantee), who proposed it (a rule of the optimizer, or an
assistant through the MCP server and the key it used), where it stands, the reason its last
attempt did not go through, and the writes the audit log holds for it.

Budgets are stored in minor units (``1250`` is 12.50 EUR, 1,250 JPY); every other amount of the
evidence (spend, revenue, a rule's target) is already in major units. Cost: one page is one
query for the recommendations and one per kind of name (ads, ad sets, accounts, keys, audit
entries), each bounded by :data:`PAGE_SIZE`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from metasync.models import (
    Ad,
    AdAccount,
    AdSet,
    ApiKey,
    AuditEntry,
    MetaConnection,
    Recommendation,
)
from metasync.optimize.guarantee import plain_guarantee
from metasync.optimize.money import format_money
from metasync.optimize.outcome import not_restored
from metasync.sync.shapes.mapping import ZERO_DECIMAL_CURRENCIES

__all__ = [
    "BUTTONS",
    "PAGE_SIZE",
    "Shown",
    "TenantRecommendations",
    "after_attempt",
    "tenant_recommendations",
    "tenants_with_recommendations",
]

PAGE_SIZE = 30
# what a person can do from each state; a failed write and a refused take-back stay retryable
BUTTONS: dict[str, tuple[str, ...]] = {
    "proposed": ("approve", "reject"),
    "approved": ("apply",),
    "failed": ("apply",),
    "applied": ("undo",),
    "restore_refused": ("undo",),
}
STATE_WORDS = {
    "proposed": "waiting for a person to approve or reject it",
    "approved": "approved, not written to Meta yet",
    "applied": "written to Meta, read back and audited",
    "rejected": "rejected: nothing is written",
    "expired": "expired: the next evaluation decides again on fresh evidence",
    "undone": "undone: the values before were written back",
    "superseded": "superseded by a newer recommendation on the same entity",
    "compensated": "not completed: what was written was taken back",
    "failed": "Meta refused the write; once the cause is fixed, apply it again",
    "restore_refused": "Meta refused to take the write back; once fixed, undo it again",
}
LEVELS = {"ad": "ad", "adset": "ad set"}
BUDGETS = ("daily_budget", "daily_budget_after", "lifetime_budget")  # minor units in evidence
MONEY = ("spend", "revenue", "window_spend")  # major units in evidence
# a cost rule's estimate and bounds are money; a return-on-spend rule's are ratios
COST_ESTIMATE = ("estimate", "low", "high")


@dataclass(frozen=True)
class Shown:
    """One recommendation as the page shows it; ``buttons``: the actions its state allows."""

    id: str
    state: str
    state_words: str
    source: str
    entity: str
    account: str
    change: str
    expected: str
    evidence: list[str]
    guarantee: str
    reason: str | None
    buttons: tuple[str, ...]
    audit: list[str]
    figures: dict[str, Any]
    proposed_at: Any
    decided: str | None


@dataclass(frozen=True)
class TenantRecommendations:
    tenant_id: str
    shown: list[Shown]
    counts: dict[str, int]
    page: int
    more: bool
    state: str | None = None
    states: list[str] = field(default_factory=list)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _money(amount: Any, currency: str | None) -> str:
    """Major units with the currency: ``12.50 EUR``; the raw value when it is not a number."""
    number = _number(amount)
    return str(amount) if number is None else format_money(number, currency)


def _budget(minor: Any, currency: str | None) -> str:
    """A budget stored in minor units, in major units with the currency."""
    try:
        units = Decimal(str(minor))
    except (InvalidOperation, ValueError):
        return str(minor)
    divisor = 1 if (currency or "").upper() in ZERO_DECIMAL_CURRENCIES else 100
    return format_money(float(units / divisor), currency)


def _readable(
    evidence: dict[str, Any], currency: str | None, money: tuple[str, ...] = MONEY
) -> dict[str, Any]:
    """The evidence's figures as the page lists them: budgets (stored in minor units, here and
    in a nested receiver) in major units with the currency, amounts (``money``: spend, revenue,
    already major units; a cost rule's target and its cost-per-conversion estimate) with the
    currency, a nested record as ``(name: value, ...)`` rather than a Python dict."""
    if isinstance(evidence.get("cost_per_conversion"), dict):
        money = (*money, "target")
    shown: dict[str, Any] = {}
    for name, value in evidence.items():
        numeric = not isinstance(value, bool) and _number(value) is not None
        if isinstance(value, dict):
            inner_money = COST_ESTIMATE if name == "cost_per_conversion" else MONEY
            inner = _readable(value, currency, inner_money).items()
            shown[name] = "(" + ", ".join(f"{k}: {v}" for k, v in inner) + ")"
        elif name in BUDGETS and numeric:
            shown[name] = _budget(value, currency)
        elif name in money and numeric:
            shown[name] = _money(value, currency)
        else:
            shown[name] = value
    return shown


def _named(level: str, entity_id: str, names: dict[str, str]) -> str:
    name = names.get(entity_id)
    word = LEVELS.get(level, level)
    return f"{word} {name} ({entity_id})" if name else f"{word} {entity_id}"


def _change(rec: Recommendation, currency: str | None, names: dict[str, str]) -> str:
    """The write it proposes: ``pause ad Summer sale (123)``, ``daily budget 10.00 EUR ->
    12.00 EUR``; a reallocation names the ad set that receives."""
    change, evidence = dict(rec.change or {}), dict(rec.evidence or {})
    target = _named(rec.level, rec.entity_id, names)
    if not change:
        return f"a flag on {target}: nothing is written"
    if "status" in change:
        verb = "pause" if change["status"] == "PAUSED" else "resume"
        return f"{verb} {target}"
    before = evidence.get("daily_budget")
    after = _budget(change.get("daily_budget"), currency)
    said = f"daily budget of {target}: {_budget(before, currency)} → {after}"
    if before is None:
        said = f"daily budget of {target} → {after}"
    receiver = evidence.get("to")
    if isinstance(receiver, dict) and receiver.get("entity_id"):
        taker = _named("adset", str(receiver["entity_id"]), names)
        said += (
            f"; and of {taker}: {_budget(receiver.get('daily_budget'), currency)} → "
            f"{_budget(receiver.get('daily_budget_after'), currency)}"
        )
    return said


def _evidence(rec: Recommendation, currency: str | None) -> list[str]:
    """The evidence as sentences; figures it does not know how to say stay in ``figures``."""
    e = dict(rec.evidence or {})
    lines: list[str] = []
    if rec.source == "assistant":
        if e.get("status"):
            lines.append(
                f"When proposed, the {LEVELS.get(rec.level, rec.level)} was {e['status']}."
            )
        if e.get("daily_budget") is not None:
            lines.append(f"Its daily budget then: {_budget(e['daily_budget'], currency)}.")
        return lines
    if e.get("first") and e.get("last"):
        lines.append(
            f"{e.get('days', '?')} matured days, {e['first']} to {e['last']}: spent "
            f"{_money(e.get('spend'), currency)}, {e.get('conversions', 0)} conversions, revenue "
            f"{_money(e.get('revenue'), currency)}."
        )
    window = e.get("window")
    if isinstance(window, dict) and window.get("first"):
        lines.append(
            f"The test's window, {window['first']} to {window.get('last')}: spent "
            f"{_money(e.get('window_spend'), currency)} for {e.get('window_conversions')} "
            f"conversions, where {e.get('expected_conversions')} were expected at the target."
        )
    cost = e.get("cost_per_conversion")
    if isinstance(cost, dict) and _number(cost.get("low")) is not None:
        lines.append(
            f"Cost per conversion about {_money(cost.get('estimate'), currency)}, at least "
            f"{_money(cost['low'], currency)} with {_number(cost.get('confidence')) or 0:.0%} "
            f"confidence; the rule's target is {_money(e.get('target'), currency)}."
        )
    ratio = e.get("return_on_spend")
    if isinstance(ratio, dict) and _number(ratio.get("low")) is not None:
        lines.append(
            f"Revenue per unit of spend about {_number(ratio.get('estimate')) or 0:.2f}, at "
            f"least {_number(ratio['low']) or 0:.2f} with "
            f"{_number(ratio.get('confidence')) or 0:.0%} confidence; the rule's target is "
            f"{e.get('target')}."
        )
    strength, threshold = _number(e.get("log_evidence")), _number(e.get("threshold"))
    if strength is not None and threshold is not None:
        lines.append(f"Evidence {strength:.2f} against the threshold {threshold:.2f} (log scale).")
    if e.get("daily_budget") is not None and rec.action != "reallocate_budget":
        lines.append(f"Daily budget when decided: {_budget(e['daily_budget'], currency)}.")
    if e.get("test"):
        lines.append(f"Test: {e['test']}.")
    return lines


def _reason(rec: Recommendation) -> str | None:
    """Why the last attempt did not go through (Meta's refusal first), or None."""
    failure = dict(rec.failure or {})
    if rec.state == "failed" and failure.get("message"):
        kind = "a missing permission" if failure.get("permission") else "its own reasons"
        return f"Meta refused for {kind}: {failure['message']}"
    if rec.state == "restore_refused":
        return f"{rec.error}; not restored: {not_restored(rec) or 'nothing'}"
    if rec.state == "approved" and rec.waiting_until is not None:
        return f"held by the daily cap: {rec.error}"
    return rec.error or None


def _audit_line(entry: AuditEntry, currency: str | None) -> str:
    def shown(value: str | None) -> str:
        return _budget(value, currency) if entry.field == "daily_budget" else str(value)

    said = (
        f"{entry.action} {entry.field} {shown(entry.old_value)} → {shown(entry.new_value)} "
        f"({entry.state}"
    )
    if entry.state == "written":
        said += f", read back {shown(entry.read_back)}"
    if entry.error:
        said += f": {entry.error}"
    return f"{said}) by {entry.by} at {entry.at:%Y-%m-%d %H:%M} UTC"


def _names(tenant_id: str, found: list[Recommendation]) -> dict[str, str]:
    """Meta id -> name of the ads, ad sets (receivers too) and accounts on the page."""
    names: dict[str, str] = {}
    wanted: dict[str, set[str]] = {"ad": set(), "adset": set()}
    for rec in found:
        wanted.setdefault(rec.level, set()).add(rec.entity_id)
        receiver = dict(rec.evidence or {}).get("to")
        if isinstance(receiver, dict) and receiver.get("entity_id"):
            wanted["adset"].add(str(receiver["entity_id"]))
    for level, document in (("ad", Ad), ("adset", AdSet)):
        if wanted[level]:
            query = document.objects(tenant_id=tenant_id, meta_id__in=sorted(wanted[level]))
            names.update({o.meta_id: o.name or "" for o in query.only("meta_id", "name")})
    return names


def tenant_recommendations(
    tenant_id: str, state: str | None = None, page: int = 1
) -> TenantRecommendations | None:
    """One page of ``tenant_id``'s recommendations, newest first (of ``state`` when given);
    None when the tenant has neither a connection nor a recommendation."""
    query = Recommendation.objects(tenant_id=tenant_id)
    counts = {
        row["_id"]: row["n"]
        for row in query.aggregate([{"$group": {"_id": "$state", "n": {"$sum": 1}}}])
    }
    if not counts and MetaConnection.objects(tenant_id=tenant_id).first() is None:
        return None
    chosen = query.filter(state=state) if state else query
    skip = (page - 1) * PAGE_SIZE
    found = list(chosen.order_by("-id").skip(skip).limit(PAGE_SIZE + 1))
    more, found = len(found) > PAGE_SIZE, found[:PAGE_SIZE]
    names = _names(tenant_id, found)
    accounts = {
        a.account_id: a
        for a in AdAccount.objects(
            tenant_id=tenant_id, account_id__in=sorted({r.account_id for r in found})
        ).only("account_id", "name", "currency")
    }
    keys = {
        f"api-key:{k.key_id}": k.name
        for k in ApiKey.objects(
            tenant_id=tenant_id,
            key_id__in=sorted(
                {r.proposed_by.removeprefix("api-key:") for r in found if r.proposed_by}
            ),
        ).only("key_id", "name")
    }
    audit: dict[str, list[AuditEntry]] = {}
    for entry in AuditEntry.objects(
        tenant_id=tenant_id, recommendation_id__in=[str(r.pk) for r in found]
    ).order_by("at"):
        audit.setdefault(entry.recommendation_id, []).append(entry)
    shown = []
    for rec in found:
        account = accounts.get(rec.account_id)
        currency = dict(rec.evidence or {}).get("currency") or (account and account.currency)
        if rec.source == "assistant":
            key = keys.get(rec.proposed_by or "")
            source = f"an assistant through the MCP server, key {key or '?'} ({rec.proposed_by})"
        else:
            source = f"the optimizer (rule {rec.rule})"
        shown.append(
            Shown(
                id=str(rec.pk),
                state=rec.state,
                state_words=STATE_WORDS.get(rec.state, rec.state),
                source=source,
                entity=_named(rec.level, rec.entity_id, names),
                account=f"{account.name} ({rec.account_id})"
                if account and account.name
                else rec.account_id,
                change=_change(rec, currency, names),
                expected=rec.expected or "",
                evidence=_evidence(rec, currency),
                guarantee=plain_guarantee(rec),
                reason=_reason(rec),
                buttons=BUTTONS.get(rec.state, ()),
                audit=[_audit_line(e, currency) for e in audit.get(str(rec.pk), [])],
                figures=_readable(dict(rec.evidence or {}), currency),
                proposed_at=rec.proposed_at,
                decided=rec.decided_by or None,
            )
        )
    return TenantRecommendations(tenant_id, shown, counts, page, more, state, sorted(counts))


def tenants_with_recommendations(limit: int = 500) -> list[dict[str, Any]]:
    """Each tenant that has recommendations: how many wait for a decision, for an apply, and
    in all (at most ``limit`` tenants, by name)."""
    pipeline = [
        {
            "$group": {
                "_id": "$tenant_id",
                "proposed": {"$sum": {"$cond": [{"$eq": ["$state", "proposed"]}, 1, 0]}},
                "approved": {"$sum": {"$cond": [{"$eq": ["$state", "approved"]}, 1, 0]}},
                "all": {"$sum": 1},
            }
        },
        {"$sort": {"_id": 1}},
        {"$limit": limit},
    ]
    return [
        {"tenant_id": row["_id"], **{k: row[k] for k in ("proposed", "approved", "all")}}
        for row in Recommendation.objects.aggregate(pipeline)
    ]


def after_attempt(rec: Recommendation, by: str) -> str:
    """What an apply or undo came to, in one line naming what to do next on this page."""
    state, error = rec.state, rec.error or ""
    failure = dict(rec.failure or {})
    if state == "applied":
        return f"applied: written to Meta, read back and audited as {by}"
    if state == "undone":
        return f"undone: the values before were written back, audited as {by}"
    if state == "approved" and rec.waiting_until is not None:
        return f"approved, waiting: {error}"
    if state == "failed":
        message = failure.get("message") or error
        if failure.get("permission"):
            return f"Meta refused for a missing permission: {message}; grant it, then apply again"
        return f"Meta refused the write: {message}; once fixed, apply again"
    if state == "expired":
        return f"not applied: {error}; the next evaluation decides again on fresh evidence"
    if state == "compensated":
        return f"not completed: {error}"
    if state == "restore_refused":
        left = not_restored(rec) or "nothing"
        return f"{error}; not restored: {left}; once the cause is fixed, undo again"
    return f"{state}{f': {error}' if error else ''}"
