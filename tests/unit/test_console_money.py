"""Money as the console writes it: major units with the currency's symbol, whole yen, budgets
from minor units with Meta's offsets, and no cost per result without results."""

from __future__ import annotations

from decimal import Decimal

from metasync.console.money import NOTHING, budget, cost_per_result, money


def test_amounts_in_major_units_with_the_currency() -> None:
    assert money(Decimal("12345"), "JPY") == "¥12,345"
    assert money(Decimal("12345.4"), "JPY") == "¥12,345", "whole yen"
    assert money("1234.56", "USD") == "$1,234.56"
    assert money(80, "EUR") == "€80.00"
    assert money(5, "") == "5.00 (currency unknown)"
    assert money(None, "USD") == NOTHING and money("not a number", "USD") == NOTHING


def test_budgets_come_from_minor_units() -> None:
    assert budget(1250, "EUR") == "€12.50"
    assert budget(1250, "JPY") == "¥1,250", "the yen has no minor unit at Meta"
    assert budget(None, "EUR") == NOTHING


def test_cost_per_result() -> None:
    assert cost_per_result(Decimal("61.70"), Decimal(10), "USD") == "$6.17"
    assert cost_per_result(Decimal("12345"), Decimal(3), "JPY") == "¥4,115"
    assert cost_per_result(Decimal("10"), Decimal(0), "USD") == NOTHING
