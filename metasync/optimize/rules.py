"""A tenant's optimization rules: their kinds, parameters and defaults, validated with errors that
name the rule and the parameter.

Rules are written as YAML (a list, or ``{"rules": [...]}``), one mapping per rule with ``kind``
and its parameters. Money is in major units (``20.0`` is 20 GBP) of a stated currency, and
each account is decided in its own currency (:mod:`metasync.optimize.money`): an amount per
currency, or ``currency:`` on the rule (it then decides only that currency's accounts); a plain
amount means the account's own currency and is accepted only while all the tenant's accounts
spend one currency. A rule given per currency is parsed as one rule per currency.

    rules:
      - kind: cost_per_conversion   # pause an ad whose cost per conversion is significantly high
        target: {GBP: 20, JPY: 3500}
      - kind: creative_fatigue
        max_frequency: 3.0
        action: pause
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from metasync.optimize.money import CurrencyError, check_currencies, expand_currencies

__all__ = [
    "BudgetReallocationRule",
    "CostPerConversionRule",
    "CreativeFatigueRule",
    "LearningLimitedRule",
    "ReturnOnSpendRule",
    "Rule",
    "RuleError",
    "SpendPacingRule",
    "parse_rules",
]


class _RuleBase(BaseModel):
    # allow_inf_nan=False: inf or nan in any number is refused, naming the parameter
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = ""  # how the rule is shown; defaults to its kind
    # of the evidence a decision must reach: 1 - confidence bounds the chance of ever acting
    # on an entity that meets its target, over every evaluation (sequential rules)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    # complete days of rows the rule looks at; for the sequential rules (cost, return,
    # reallocation) the fewest matured days a decision needs
    days: int = Field(7, ge=1, le=90)
    # the currency of the rule's money (None: per currency, or the accounts' one currency);
    # a rule with a currency decides only the accounts that spend it
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")

    @property
    def label(self) -> str:
        return self.name or str(getattr(self, "kind", "rule"))


class CostPerConversionRule(_RuleBase):
    """Pause an ad whose cost per conversion is above ``target`` by the sequential test of
    :mod:`metasync.optimize.sequential` on its matured days (at least ``days`` of them), once
    it has ``min_conversions``, or spent ``spend_multiple`` x target with none."""

    kind: Literal["cost_per_conversion"]
    target: float = Field(gt=0)
    min_conversions: int = Field(5, ge=1)
    spend_multiple: float = Field(3.0, gt=0)


class ReturnOnSpendRule(_RuleBase):
    """Raise an ad set's daily budget by ``step`` (a fraction, capped at ``max_daily_budget``)
    when its return on spend is above ``target`` by the sequential test on its matured days
    since its last change (at least ``days`` of them)."""

    kind: Literal["return_on_spend"]
    target: float = Field(gt=0)
    days: int = Field(3, ge=1, le=90)
    step: float = Field(0.2, gt=0, le=1)
    max_daily_budget: float | None = Field(None, gt=0)


class CreativeFatigueRule(_RuleBase):
    """An ad whose frequency is above ``max_frequency`` and whose click-through rate over the
    last ``days`` is below ``ctr_ratio`` x that of the ``days`` before: flag (or pause)."""

    kind: Literal["creative_fatigue"]
    max_frequency: float = Field(3.0, gt=0)
    ctr_ratio: float = Field(0.7, gt=0, lt=1)
    action: Literal["flag", "pause"] = "flag"


class LearningLimitedRule(_RuleBase):
    """Flag an ad set Meta reports as learning limited for at least ``days``, with Meta's
    reason. (Ad sets still learning, or learning limited, are never acted on by any rule.)"""

    kind: Literal["learning_limited"]


class BudgetReallocationRule(_RuleBase):
    """Within each campaign (or ad account, ``within: account``), move ``step`` of a daily
    budget from the ad set whose cost per conversion is significantly the worst to the one
    whose is significantly the best, keeping the total: the worst's anytime interval must lie
    wholly above the best's, each at ``(1 - confidence) / k`` for the ``k`` compared. The
    amount moved is ``step`` x the smaller of the two budgets (so the raise stays within the
    +``step`` cap), never leaving less than ``min_daily_budget``."""

    kind: Literal["budget_reallocation"]
    within: Literal["campaign", "account"] = "campaign"
    step: float = Field(0.2, gt=0, le=0.5)
    min_daily_budget: float = Field(1.0, gt=0)  # major units, what the donor keeps at least


class SpendPacingRule(_RuleBase):
    """Flag an ad set that had spent ``share`` x what Meta lets it spend in a day (1.75 x its
    daily budget, within 7 x in the week) before ``before_hour`` (the ad account's time) on at
    least ``min_days`` of the last ``days``: its budget runs out before the day does. Reads an
    hourly report's rows (``metasync reports enable hourly``)."""

    kind: Literal["spend_pacing"]
    before_hour: int = Field(18, ge=1, le=23)
    share: float = Field(1.0, gt=0, le=2)
    min_days: int = Field(2, ge=1)


Rule = Annotated[
    CostPerConversionRule
    | ReturnOnSpendRule
    | CreativeFatigueRule
    | LearningLimitedRule
    | BudgetReallocationRule
    | SpendPacingRule,
    Field(discriminator="kind"),
]
_RULES: TypeAdapter[list[Rule]] = TypeAdapter(list[Rule])
KINDS = (
    "cost_per_conversion",
    "return_on_spend",
    "creative_fatigue",
    "learning_limited",
    "budget_reallocation",
    "spend_pacing",
)


class RuleError(ValueError):
    """A rules file that cannot be used; the message names the rule and the parameter."""


def _describe(error: ValidationError, raw: list[Any], origins: list[tuple[int, bool]]) -> str:
    problems = []
    for item in error.errors():
        where = list(item["loc"])
        index = origins[where[0]][0] if where and isinstance(where[0], int) else None
        kind = (
            raw[index].get("kind") if index is not None and isinstance(raw[index], dict) else None
        )
        params = [str(p) for p in where[2:]] if len(where) > 2 else []
        if item["type"] == "union_tag_invalid" or item["type"] == "union_tag_not_found":
            detail = f"kind must be one of {', '.join(KINDS)}"
        else:
            detail = f"{'.'.join(params) or 'rule'}: {item['msg']}"
        rule = f"rule {index + 1}" if index is not None else "rules"
        problems.append(f"{rule}{f' ({kind})' if kind else ''}: {detail}")
    return "; ".join(dict.fromkeys(problems))  # a rule split per currency: each problem once


def parse_rules(text: str, accounts: Mapping[str, str | None] | None = None) -> list[Rule]:
    """Rules from YAML text; :class:`RuleError` names every problem at once. With ``accounts``
    (each of the tenant's ad accounts, ``act_...``, to its currency; None: not known yet), a
    rule whose money cannot apply to an account's currency is refused too
    (:func:`metasync.optimize.money.check_currencies`)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"the rules are not valid YAML: {exc}") from None
    if isinstance(raw, dict) and set(raw) == {"rules"}:
        raw = raw["rules"]
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RuleError("the rules must be a list of rules (or a mapping with one key, rules)")
    try:
        items, origins = expand_currencies(raw)
        rules = _RULES.validate_python(items)
        if accounts is not None:
            check_currencies(rules, origins, accounts)
    except CurrencyError as exc:
        raise RuleError(str(exc)) from None
    except ValidationError as exc:
        raise RuleError(_describe(exc, raw, origins)) from None
    return rules
