"""Evaluate a tenant's rules on the mirror and store what they propose.

The I/O around :func:`metasync.optimize.decisions.decide`: it reads the tenant's live ads and
ad sets, their ad sets' learning stage and attribution setting, their campaigns' Advantage+
type and budget sharing, the last change anyone made to each (Meta's ``updated_time`` and the
activity log, whichever is later), and their complete daily rows (up to yesterday in the
account's time zone, enough days for the longest rule and the attribution window), in one
query per collection. Each entity's matured stream (:mod:`metasync.optimize.stream`) is
advanced by the days that matured since the last evaluation and stored
(:mod:`metasync.optimize.streams_store`, one bulk write). Each decision is stored as a
:class:`~metasync.models.Recommendation` keyed by what it decided on, so a second evaluation
of the same rows proposes nothing new, and a newer decision on the same entity and action
supersedes the older proposal (one open proposal each). The budget rules
(:mod:`metasync.optimize.budgets`) run after the per-entity ones, on the same subjects and
streams, plus the hourly report rows when a pacing rule asks for them.

Cost: one query each for accounts (and their currencies, long re-reads and arrival profiles),
campaigns, ad sets, ads, activities, daily rows and (twice) streams of the tenant; the rows
read are entities x (twice the longest rule's days + the attribution window), so a tenant of
10,000 ads reads about 210,000 small rows. Evaluating is cheap next to a sync; it runs on the
beat's schedule. Streams read only days re-read since they matured
(:mod:`metasync.optimize.reread`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from mongoengine.errors import NotUniqueError

from metasync.config import ConfigurationError, Settings, get_settings
from metasync.models import (
    Ad,
    AdAccount,
    AdActivity,
    AdSet,
    Campaign,
    OptimizerSettings,
    Recommendation,
    utcnow,
)
from metasync.optimize.budgets import pace, reallocate
from metasync.optimize.decisions import (
    QUIET_HOURS,
    Decision,
    Subject,
    decide,
    held_back,
)
from metasync.optimize.figures import daily_figures, hourly_spend, number
from metasync.optimize.money import applies
from metasync.optimize.profiles import account_profiles
from metasync.optimize.reread import REREAD_REACH, readable_days
from metasync.optimize.rules import (
    BudgetReallocationRule,
    CostPerConversionRule,
    ReturnOnSpendRule,
    Rule,
    SpendPacingRule,
    parse_rules,
)
from metasync.optimize.settings import tenant_currencies
from metasync.optimize.stream import DEFAULT_MATURITY_DAYS, Stream, maturity_days
from metasync.optimize.streams_store import advance_streams
from metasync.optimize.together import plan_after_raises
from metasync.optimize.verdicts import volume_note
from metasync.sync.shapes.mapping import ZERO_DECIMAL_CURRENCIES

log = logging.getLogger(__name__)

__all__ = [
    "Evaluation",
    "evaluate_isolated",
    "evaluate_tenant",
    "has_rules",
    "recommendation_key",
    "subjects_of",
    "tenants_with_rules",
]


@dataclass
class Evaluation:
    """What one evaluation did: recommendations new and already known, entities held back
    (by reason), and why nothing ran (``skipped``)."""

    tenant_id: str
    proposed: list[str] = field(default_factory=list)  # ids of new recommendations
    known: int = 0
    confirmed: list[str] = field(default_factory=list)  # ids of known ones still proposed
    held_back: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)  # what a rule lacked to decide


def recommendation_key(tenant_id: str, decision: Decision) -> str:
    """The identity of a decision: rule, entity, action, change and its evidence's last day."""
    last = decision.evidence.get("last") or decision.evidence.get("limited_since", "")
    decided = [decision.rule, decision.kind, decision.entity_id, decision.action]
    identity = [tenant_id, *decided, decision.change, last]
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _yesterday(timezone_name: str | None, now: datetime) -> date:
    zone = ZoneInfo(timezone_name or "UTC")
    return now.astimezone(zone).date() - timedelta(days=1)


# legacy Advantage+ campaigns: Meta refuses creation, duplication and updates on every version
# since 2026-05-19 (Marketing API out-of-cycle changes 2026, "Advantage+ shopping and app
# campaigns"); the new Advantage+ campaigns are ordinary campaigns and stay writable
LEGACY_ADVANTAGE = {
    "AUTOMATED_SHOPPING_ADS": "a legacy Advantage+ shopping campaign, which Meta no longer lets "
    "anyone update",
    "SMART_APP_PROMOTION": "a legacy Advantage+ app campaign, which Meta no longer lets anyone "
    "update",
}
SEQUENTIAL = (CostPerConversionRule, ReturnOnSpendRule, BudgetReallocationRule)
LONGEST_WINDOW = 28  # days: the longest attribution window Meta offers (28-day click)


def _days_needed(rules: list[Rule], subjects: list[Subject]) -> int:
    longest = max((s.maturity_days for s in subjects), default=DEFAULT_MATURITY_DAYS)
    return max(2 * rule.days for rule in rules) + min(longest, LONGEST_WINDOW)


def lookback_days() -> int:
    """``META_INSIGHTS_LOOKBACK_DAYS``: how many days back the sync's long re-read reaches, so
    how long a day can wait to mature (:mod:`metasync.optimize.reread`). From the settings;
    where they do not load (an evaluation needs none of the others), the variable alone, else
    its default."""
    try:
        return get_settings().META_INSIGHTS_LOOKBACK_DAYS
    except ConfigurationError:
        field = Settings.model_fields["META_INSIGHTS_LOOKBACK_DAYS"]
        value = os.environ.get("META_INSIGHTS_LOOKBACK_DAYS", "").strip()
        days = int(value) if value.isdigit() else int(field.default)
        return min(max(days, 1), 90)


def subjects_of(
    tenant_id: str,
    now: datetime,
    quiet_hours: int = QUIET_HOURS,
    reach: int = REREAD_REACH,
) -> tuple[list[Subject], dict[str, date]]:
    """The tenant's live ad sets and ads as subjects of the rules, and each account's newest
    complete day (yesterday in its time zone); ``reach``: the long re-read's days back, the
    longest a day may wait to mature."""
    accounts = {a.meta_id.removeprefix("act_"): a for a in AdAccount.objects(tenant_id=tenant_id)}
    through = {k: _yesterday(a.timezone_name, now) for k, a in accounts.items()}
    profiles = account_profiles(tenant_id, through)
    last_activity: dict[str, datetime] = {}
    recent = AdActivity.objects(  # only changes that can still hold an entity back
        tenant_id=tenant_id, event_time__gte=now - timedelta(hours=quiet_hours)
    )
    for entry in recent.only("object_id", "event_time"):
        seen = last_activity.get(entry.object_id)
        if entry.object_id and (seen is None or entry.event_time > seen):
            last_activity[entry.object_id] = entry.event_time

    def changed(meta_id: str, updated: datetime | None) -> datetime | None:
        times = [t for t in (updated, last_activity.get(meta_id)) if t is not None]
        return max(times) if times else None

    campaigns = {
        c.meta_id: c
        for c in Campaign.objects(tenant_id=tenant_id, deleted_at=None).only(
            "meta_id", "smart_promotion_type", "is_adset_budget_sharing_enabled"
        )
    }
    adsets = {s.meta_id: s for s in AdSet.objects(tenant_id=tenant_id, deleted_at=None)}
    subjects = []

    def campaign_facts(campaign_id: str | None) -> tuple[str | None, bool]:
        campaign = campaigns.get(campaign_id or "")
        if campaign is None:
            return None, False
        locked = LEGACY_ADVANTAGE.get(campaign.smart_promotion_type or "")
        return locked, bool(campaign.is_adset_budget_sharing_enabled)

    for adset in adsets.values():
        currency = accounts[adset.account_id].currency if adset.account_id in accounts else None
        per_major = 1 if (currency or "").upper() in ZERO_DECIMAL_CURRENCIES else 100
        budget = number(adset.daily_budget) if adset.daily_budget is not None else None
        locked, sharing = campaign_facts(adset.campaign_id)
        currency = currency.upper() if currency else None
        subjects.append(
            Subject(
                "adset",
                adset.meta_id,
                adset.account_id,
                adset.effective_status or adset.status or "",
                changed(adset.meta_id, adset.updated_time),
                dict(adset.learning_stage_info or {}) or None,
                round(budget * per_major) if budget is not None else None,
                per_major,
                adset.campaign_id,
                maturity_days(adset.attribution_spec, profiles.get(adset.account_id), reach),
                locked,
                sharing,
                currency,
            )
        )
    for ad in Ad.objects(tenant_id=tenant_id, deleted_at=None):
        parent = adsets.get(ad.adset_id or "")
        stage = dict(parent.learning_stage_info or {}) if parent is not None else {}
        locked, _ = campaign_facts(ad.campaign_id)
        account = accounts.get(ad.account_id)
        spends = account.currency if account is not None else None
        subjects.append(
            Subject(
                "ad",
                ad.meta_id,
                ad.account_id,
                ad.effective_status or ad.status or "",
                changed(ad.meta_id, ad.updated_time),
                stage or None,
                parent_id=ad.adset_id,
                maturity_days=maturity_days(
                    parent.attribution_spec if parent else None,
                    profiles.get(ad.account_id),
                    reach,
                ),
                locked=locked,
                currency=spends.upper() if spends else None,
            )
        )
    return subjects, through


def evaluate_tenant(
    tenant_id: str, now: datetime | None = None, kinds: tuple[str, ...] | None = None
) -> Evaluation:
    """Evaluate ``tenant_id``'s rules now (only those of ``kinds`` when given); stores new
    recommendations (state ``proposed``). A rule decides only the accounts its money applies
    to; rules whose money cannot apply to an account's currency raise
    :class:`~metasync.optimize.rules.RuleError` naming them (the tenant's accounts may have
    changed since the rules were stored), recorded by :func:`evaluate_isolated`."""
    now = now or datetime.now(UTC)
    result = Evaluation(tenant_id)
    settings = OptimizerSettings.objects(tenant_id=tenant_id).first()
    if settings is None or not settings.rules_yaml.strip():
        result.skipped = "no rules"
        return result
    if settings.mode == "off":
        result.skipped = "optimizer off"
        return result
    stored = parse_rules(settings.rules_yaml, tenant_currencies(tenant_id))
    rules = [r for r in stored if kinds is None or r.kind in kinds]
    if not rules:
        result.skipped = "no rules"
        return result
    settings.update(set__evaluated_at=now, unset__evaluation_error=True)
    quiet = settings.quiet_hours
    reach = lookback_days()
    subjects, through = subjects_of(tenant_id, now, quiet, reach)
    rows = daily_figures(tenant_id, through, _days_needed(rules, subjects))
    sequential = any(isinstance(rule, SEQUENTIAL) for rule in rules)
    streams = (
        advance_streams(
            tenant_id,
            subjects,
            *readable_days(tenant_id, subjects, rows, through, reach),
        )
        if sequential
        else {}
    )
    for subject in subjects:
        reason = held_back(subject, now, quiet)
        if reason is not None:
            word = reason.split(" (")[0]
            result.held_back[word] = result.held_back.get(word, 0) + 1
        key = (subject.level, subject.entity_id)
        for rule in rules:
            if not applies(rule, subject.currency):
                continue
            decision = decide(rule, subject, rows.get(key, []), now, quiet, streams.get(key))
            if decision is not None:
                _store(result, subject, decision)
    result.notes += _volume_notes(rules, subjects, streams, now, quiet)
    by_id = {(s.level, s.entity_id): s for s in subjects}
    budgets = _budget_decisions(result, rules, subjects, streams, through, now, quiet)
    for decision in plan_after_raises(budgets, _raises(result)):
        _store(result, by_id[(decision.level, decision.entity_id)], decision)
    return result


def _raises(result: Evaluation) -> dict[str, str]:
    """The budget raises this evaluation stands by (new or decided again): ad set id ->
    recommendation id, for the reallocations planned after them."""
    found = Recommendation.objects(
        tenant_id=result.tenant_id,
        pk__in=result.proposed + result.confirmed,
        action="raise_budget",
    ).only("entity_id")
    return {rec.entity_id: str(rec.pk) for rec in found}


def _volume_notes(
    rules: list[Rule],
    subjects: list[Subject],
    streams: dict[tuple[str, str], Stream],
    now: datetime,
    quiet: int,
) -> list[str]:
    """For each cost rule, the ads it may act on whose volume is too low for a 2 x cost to be
    caught within 14 days (:func:`metasync.optimize.verdicts.volume_note`)."""
    notes = []
    for rule in rules:
        if not isinstance(rule, CostPerConversionRule):
            continue
        ads = [
            (streams[(s.level, s.entity_id)], s.maturity_days)
            for s in subjects
            if s.level == "ad"
            and (s.level, s.entity_id) in streams
            and applies(rule, s.currency)
            and held_back(s, now, quiet) is None
        ]
        note = volume_note(rule.label, rule.target, 1 - rule.confidence, ads)
        if note is not None:
            notes.append(note)
    return notes


def _budget_decisions(
    result: Evaluation,
    rules: list[Rule],
    subjects: list[Subject],
    streams: dict[tuple[str, str], Stream],
    through: dict[str, date],
    now: datetime,
    quiet: int,
) -> list[Decision]:
    """What the budget rules propose: reallocations within groups, pacing flags from hours."""
    decisions: list[Decision] = []
    pacing = [r for r in rules if isinstance(r, SpendPacingRule)]
    hourly = hourly_spend(result.tenant_id, through, max(r.days for r in pacing)) if pacing else {}
    if pacing and not hourly:
        result.notes.append(
            "spend_pacing: no hourly report rows to read; enable one "
            "(metasync reports enable hourly) and let a performance sync read it"
        )
    for rule in rules:
        priced = [s for s in subjects if applies(rule, s.currency)]
        if isinstance(rule, BudgetReallocationRule):
            decisions += reallocate(rule, priced, streams, now, quiet)
        elif isinstance(rule, SpendPacingRule):
            for subject in priced:
                found = pace(rule, subject, hourly.get(subject.entity_id, {}), now, quiet)
                decisions += [found] if found is not None else []
    return decisions


def evaluate_isolated(tenant_id: str, kinds: tuple[str, ...] | None = None) -> Evaluation | None:
    """:func:`evaluate_tenant`, with any failure recorded on the tenant's settings (shown by
    ``metasync rules list``, the console and ``/metrics``) instead of raised, so one tenant's
    failure never stops the evaluation of the others; None when it failed."""
    try:
        return evaluate_tenant(tenant_id, kinds=kinds)
    except Exception as exc:  # any failure: recorded for the operator, the others go on
        log.exception("evaluating the rules of tenant %s failed", tenant_id)
        OptimizerSettings.objects(tenant_id=tenant_id).update_one(
            set__evaluation_error=f"{type(exc).__name__}: {exc}"[:500],
            set__evaluation_failed_at=utcnow(),
        )
        return None


def has_rules(tenant_id: str) -> bool:
    """The tenant's optimizer is on and has rules."""
    found = OptimizerSettings.objects(tenant_id=tenant_id, mode__ne="off").first()
    return found is not None and bool((found.rules_yaml or "").strip())


def tenants_with_rules() -> list[str]:
    """Tenants whose optimizer is not off and has rules."""
    return sorted(
        s.tenant_id
        for s in OptimizerSettings.objects(mode__ne="off").only("tenant_id", "rules_yaml")
        if (s.rules_yaml or "").strip()
    )


def _store(result: Evaluation, subject: Subject, decision: Decision) -> None:
    key = recommendation_key(result.tenant_id, decision)
    try:
        saved = Recommendation(
            tenant_id=result.tenant_id,
            key=key,
            account_id=subject.account_id,
            level=decision.level,
            entity_id=decision.entity_id,
            rule=decision.rule,
            kind=decision.kind,
            action=decision.action,
            change=decision.change,
            evidence=decision.evidence,
            expected=decision.expected,
        ).save()
    except NotUniqueError:  # an earlier (or concurrent) evaluation stored it first
        result.known += 1
        earlier = Recommendation.objects(tenant_id=result.tenant_id, key=key).only("state").first()
        if earlier is not None and earlier.state == "proposed":
            result.confirmed.append(str(earlier.pk))
            if "follows" in decision.evidence:  # planned after a raise decided since
                earlier.update(set__evidence__follows=decision.evidence["follows"])
        return
    result.proposed.append(str(saved.pk))
    Recommendation.objects(
        tenant_id=result.tenant_id,
        entity_id=decision.entity_id,
        rule=decision.rule,
        action=decision.action,
        state="proposed",
        pk__ne=saved.pk,
    ).update(set__state="superseded", set__superseded_by=str(saved.pk))
