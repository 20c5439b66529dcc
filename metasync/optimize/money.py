"""A rule's money and the currency it is in: each account is decided in its own currency.

**The choice.** The rules file states its money per currency; nothing is converted. A rule's
amounts are compared with an account's figures only in that account's currency, the one Meta
reports its spend in. A tenant with one target across markets writes one amount per currency
(``target: {GBP: 20, JPY: 3500}``); converting one amount through exchange rates is not done,
so a target never moves with a rate.

**The money fields** (:data:`MONEY_FIELDS`): ``cost_per_conversion.target`` (a cost per
conversion), ``return_on_spend.max_daily_budget`` and ``budget_reallocation.min_daily_budget``
(daily budgets), all in major units (``20`` is 20 GBP, ``3500`` is 3,500 JPY). Not money:
``return_on_spend.target`` (revenue per unit of spend, a ratio of two amounts Meta reports in
the same currency), the multiples and fractions, and the optimizer's guards
(``max_budget_increase`` is a fraction).

**How a rule states its currency**:

- ``currency: GBP`` on the rule: its plain amounts are in GBP and it applies only to the accounts
  that spend GBP (write one rule per currency);
- an amount per currency (``target: {GBP: 20, JPY: 3500}``): the rule applies to the accounts in
  each currency it names, and every account of the tenant must spend one of them; every money
  field the rule gives must name the same currencies;
- a plain amount with no ``currency``: the account's own currency, accepted only while all the
  tenant's accounts (those whose currency is known) spend one currency.

A rules file that breaks these is refused when it is stored and when it is evaluated, naming the
rule, the field, the currencies and the account, never compared across currencies. A money
field left at its default (``min_daily_budget``: 1) is one major unit of each account's own
currency and is never refused. An account whose currency the mirror does not know yet (it was
never synced) is not decided by a rule with money.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from metasync.sync.shapes.mapping import ZERO_DECIMAL_CURRENCIES

__all__ = [
    "MONEY_FIELDS",
    "CurrencyError",
    "applies",
    "check_currencies",
    "expand_currencies",
    "format_money",
    "stated_money",
]

MONEY_FIELDS: dict[str, tuple[str, ...]] = {
    "cost_per_conversion": ("target",),
    "return_on_spend": ("max_daily_budget",),
    "budget_reallocation": ("min_daily_budget",),
}
_CODE = re.compile(r"^[A-Z]{3}$")


class CurrencyError(ValueError):
    """A rule's money that cannot apply to an account's currency; names rule, field, account."""


class Priced(Protocol):
    """What the check reads of a rule (:class:`metasync.optimize.rules.Rule`)."""

    @property
    def kind(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def model_fields_set(self) -> set[str]: ...


def _code(value: Any, where: str) -> str:
    code = str(value).strip().upper()
    if not _CODE.match(code):
        raise CurrencyError(f"{where}: {value!r} is not a currency code (three letters: GBP)")
    return code


def expand_currencies(raw: list[Any]) -> tuple[list[Any], list[tuple[int, bool]]]:
    """The raw rules with each per-currency rule split into one rule per currency (with
    ``currency`` set and plain amounts), and for each the index of the rule it came from and
    whether it was split so. Raises :class:`CurrencyError` on a rule that mixes the forms."""
    items: list[Any] = []
    origins: list[tuple[int, bool]] = []
    for index, rule in enumerate(raw):
        if not isinstance(rule, dict):
            items.append(rule)
            origins.append((index, False))
            continue
        where = f"rule {index + 1} ({rule.get('kind')})"
        fields = [f for f in MONEY_FIELDS.get(str(rule.get("kind")), ()) if f in rule]
        mapped = {f: rule[f] for f in fields if isinstance(rule[f], dict)}
        if rule.get("currency") is not None:
            rule = {**rule, "currency": _code(rule["currency"], f"{where}: currency")}
        if not mapped:
            items.append(rule)
            origins.append((index, False))
            continue
        if rule.get("currency") is not None:
            raise CurrencyError(
                f"{where}: give either currency: {rule['currency']} with plain amounts, or an "
                f"amount per currency ({', '.join(mapped)}), not both"
            )
        plain = [f for f in fields if f not in mapped]
        if plain:
            raise CurrencyError(
                f"{where}: {', '.join(plain)} has no currency while {', '.join(mapped)} names "
                f"{', '.join(map(str, next(iter(mapped.values()))))}; give it per currency too"
            )
        per_field = {
            f: {_code(c, f"{where}: {f}"): v for c, v in amounts.items()}
            for f, amounts in mapped.items()
        }
        currencies = sorted(next(iter(per_field.values())))
        if not currencies:
            raise CurrencyError(f"{where}: {', '.join(mapped)} names no currency")
        for name, amounts in per_field.items():
            if sorted(amounts) != currencies:
                raise CurrencyError(
                    f"{where}: {name} names {', '.join(sorted(amounts))} but "
                    f"{next(iter(per_field))} names {', '.join(currencies)}; give every money "
                    "field for the same currencies"
                )
        for code in currencies:
            items.append({**rule, **{f: a[code] for f, a in per_field.items()}, "currency": code})
            origins.append((index, True))
    return items, origins


def stated_money(rule: Priced) -> list[str]:
    """The money fields the rules file gave ``rule`` (not left at their defaults)."""
    return [f for f in MONEY_FIELDS.get(rule.kind, ()) if f in rule.model_fields_set]


def applies(rule: Priced, currency: str | None) -> bool:
    """Whether ``rule`` decides an account that spends ``currency`` (None: not known yet)."""
    if rule.currency is not None:
        return rule.currency == (currency or "").upper()
    return currency is not None or not stated_money(rule)


def check_currencies(
    rules: Sequence[Priced],
    origins: Sequence[tuple[int, bool]],
    accounts: Mapping[str, str | None],
) -> None:
    """Refuse rules whose money cannot apply to an account: ``accounts`` maps each of the
    tenant's ad accounts (``act_...``) to its currency (None: not known yet); ``origins`` as
    :func:`expand_currencies` gives them. Every problem is named at once."""
    known = {a: c.upper() for a, c in sorted(accounts.items()) if c}
    spends = sorted(set(known.values()))
    problems: list[str] = []
    by_origin: dict[int, list[Priced]] = {}
    split: set[int] = set()
    for rule, (origin, was_split) in zip(rules, origins, strict=True):
        by_origin.setdefault(origin, []).append(rule)
        split |= {origin} if was_split else set()
    for origin, group in by_origin.items():
        first = group[0]
        money = stated_money(first)
        if not money or (first.currency is not None and origin not in split):
            continue  # no money, or currency: stated on the rule: it decides those accounts
        named = sorted(r.currency for r in group if r.currency is not None)
        field = money[0]
        if not named and len(spends) > 1:
            listed = ", ".join(
                f"{code} ({', '.join(a for a, c in known.items() if c == code)})" for code in spends
            )
            problems.append(
                f"rule {first.label!r} has a {field} of {getattr(first, field)} in no stated "
                f"currency, but the tenant's accounts spend {listed}; give one per currency "
                f"({field}: {{{', '.join(f'{c}: ...' for c in spends)}}}) or state the rule's "
                f"currency (currency: {spends[0]})"
            )
        for account, code in known.items() if named else ():
            if code not in named:
                problems.append(
                    f"rule {first.label!r} has a {field} in {', '.join(named)} but account "
                    f"{account} spends {code}; give a {code} {field} ({field}: "
                    f"{{{', '.join(f'{c}: ...' for c in [*named, code])}}}), or write the rule "
                    f"for {' or '.join(named)} accounts only (currency: {named[0]})"
                )
    if problems:
        raise CurrencyError("; ".join(problems))


def format_money(amount: float, currency: str | None) -> str:
    """``amount`` (major units) with its currency code: ``20.00 GBP``, ``3,500 JPY`` (no
    decimals for currencies without minor units); ``(account currency)`` when unknown."""
    code = (currency or "").upper()
    digits = 0 if code in ZERO_DECIMAL_CURRENCIES else 2
    return f"{amount:,.{digits}f} {code or '(account currency)'}"
