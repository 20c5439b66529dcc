"""A rule's money is in a stated currency: a rules file whose amounts cannot apply to an
account's currency is refused naming the rule, the currencies and the account; a plain amount
means the account's own currency only while all the tenant's accounts share one."""

from __future__ import annotations

import pytest

from metasync.optimize.money import applies, format_money
from metasync.optimize.rules import CostPerConversionRule, ReturnOnSpendRule, RuleError, parse_rules

DEMO = {"act_1": "GBP", "act_2": "JPY"}  # the demo tenant: a GBP and a JPY account


def test_one_plain_target_for_a_gbp_and_a_jpy_account_is_refused_naming_both() -> None:
    with pytest.raises(RuleError) as refused:
        parse_rules("- kind: cost_per_conversion\n  name: cpa\n  target: 20\n", DEMO)
    message = str(refused.value)
    assert "rule 'cpa' has a target of 20.0 in no stated currency" in message
    assert "GBP (act_1)" in message and "JPY (act_2)" in message
    assert "target: {GBP: ..., JPY: ...}" in message


def test_a_target_in_gbp_only_is_refused_for_the_jpy_account() -> None:
    with pytest.raises(RuleError) as refused:
        parse_rules("- kind: cost_per_conversion\n  name: cpa\n  target: {GBP: 20}\n", DEMO)
    assert "rule 'cpa' has a target in GBP but account act_2 spends JPY; give a JPY target" in str(
        refused.value
    )
    assert "act_1" not in str(refused.value), "the GBP account is fine"


def test_per_currency_targets_become_one_rule_per_currency() -> None:
    rules = parse_rules("- kind: cost_per_conversion\n  target: {gbp: 20, JPY: 3500}\n", DEMO)
    assert [(r.currency, r.target) for r in rules if isinstance(r, CostPerConversionRule)] == [
        ("GBP", 20.0),
        ("JPY", 3500.0),
    ]
    gbp, jpy = rules
    assert applies(gbp, "GBP") and not applies(gbp, "JPY")
    assert applies(jpy, "JPY") and not applies(jpy, "GBP")
    assert not applies(jpy, None), "an account not synced yet is not decided by money"


def test_a_rule_with_a_stated_currency_decides_only_those_accounts() -> None:
    [rule] = parse_rules("- kind: cost_per_conversion\n  currency: GBP\n  target: 20\n", DEMO)
    assert rule.currency == "GBP" and applies(rule, "GBP") and not applies(rule, "JPY")


def test_a_single_currency_tenant_keeps_its_plain_rules() -> None:
    [rule] = parse_rules("- kind: cost_per_conversion\n  target: 20\n", {"act_1": "usd"})
    assert rule.currency is None and applies(rule, "USD")
    # an account not synced yet does not make a second currency
    parse_rules("- kind: cost_per_conversion\n  target: 20\n", {"act_1": "USD", "act_9": None})


def test_rules_without_money_apply_to_every_currency() -> None:
    rules = parse_rules(
        "- kind: creative_fatigue\n- kind: return_on_spend\n  target: 2\n"
        "- kind: budget_reallocation\n",  # min_daily_budget at its default: one major unit
        DEMO,
    )
    assert all(applies(r, "GBP") and applies(r, "JPY") for r in rules)
    # a budget cap is money: refused when it states no currency
    with pytest.raises(RuleError, match=r"has a max_daily_budget of 500\.0 in no stated"):
        parse_rules("- kind: return_on_spend\n  target: 2\n  max_daily_budget: 500\n", DEMO)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "- kind: return_on_spend\n  target: 2\n  max_daily_budget: {GBP: 50}\n"
            "  currency: GBP\n",
            "give either currency: GBP with plain amounts, or an amount per currency",
        ),
        ("- kind: cost_per_conversion\n  target: {}\n", "target names no currency"),
        ("- kind: cost_per_conversion\n  target: {POUNDS: 20}\n", "'POUNDS' is not a currency"),
        ("- kind: cost_per_conversion\n  target: {GBP: 0, JPY: 3500}\n", "greater than 0"),
        ("- kind: cost_per_conversion\n  currency: 12\n  target: 5\n", "12 is not a currency"),
    ],
)
def test_malformed_money_is_refused_by_name(text: str, problem: str) -> None:
    with pytest.raises(RuleError, match=problem):
        parse_rules(text, DEMO)


def test_a_budget_cap_per_currency_covers_every_account() -> None:
    with pytest.raises(RuleError, match="max_daily_budget in GBP but account act_2 spends JPY"):
        parse_rules(
            "- kind: return_on_spend\n  target: 2\n  max_daily_budget: {GBP: 50}\n", DEMO
        )  # the target is a ratio, but the cap is money: act_2 has none in JPY
    [gbp, jpy] = parse_rules(
        "- kind: return_on_spend\n  target: 2\n  max_daily_budget: {GBP: 50, JPY: 9000}\n", DEMO
    )
    assert isinstance(gbp, ReturnOnSpendRule) and gbp.max_daily_budget == 50.0
    assert isinstance(jpy, ReturnOnSpendRule) and jpy.max_daily_budget == 9000.0


def test_amounts_are_printed_with_their_currency_in_major_units() -> None:
    assert format_money(2800, "JPY") == "2,800 JPY"
    assert format_money(20, "gbp") == "20.00 GBP"
    assert format_money(3.5, None) == "3.50 (account currency)"
