"""Each account decided in its own currency, on a mirror in a real MongoDB-wire server: the demo
tenant (a GBP and a JPY account) with one plain target is refused when stored and when
evaluated, per-currency targets decide each account in its currency, and the backtest's totals
are per currency, also as the CLI prints them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from metasync.models import Ad, AdAccount, AdSet, DailyInsight, OptimizerSettings, Recommendation
from metasync.optimize.backtest import backtest
from metasync.optimize.evaluate import evaluate_isolated, evaluate_tenant
from metasync.optimize.rules import RuleError
from metasync.optimize.settings import set_rules
from tests.integration.test_cli import run, with_database
from tests.support.optimizer_mirror import NOW, YESTERDAY


def _account(tenant: str, number: str, currency: str, ad: str, spend: float) -> None:
    """An account in ``currency`` with one running ad: ``spend`` a day (major units) for one
    conversion a day over 21 days (14 matured under the 7-day click window)."""
    old = NOW - timedelta(days=30)
    AdAccount(
        tenant_id=tenant,
        meta_id=f"act_{number}",
        account_id=number,
        currency=currency,
        timezone_name="UTC",
    ).save()
    AdSet(
        tenant_id=tenant,
        meta_id=f"s-{number}",
        account_id=number,
        status="ACTIVE",
        effective_status="ACTIVE",
        updated_time=old,
        learning_stage_info={"status": "SUCCESS"},
    ).save()
    Ad(
        tenant_id=tenant,
        meta_id=ad,
        account_id=number,
        adset_id=f"s-{number}",
        status="ACTIVE",
        effective_status="ACTIVE",
        updated_time=old,
    ).save()
    for back in range(21):
        DailyInsight(
            tenant_id=tenant,
            account_id=number,
            level="ad",
            entity_id=ad,
            date=(YESTERDAY - timedelta(days=back)).isoformat(),
            impressions=1000,
            clicks=20,
            spend=Decimal(str(spend)),
            conversions=Decimal(1),
            revenue=Decimal(0),
        ).save()


def _demo_tenant(tenant: str) -> None:
    _account(tenant, "1", "GBP", "a-gbp", spend=60)  # 60 GBP per conversion
    _account(tenant, "2", "JPY", "a-jpy", spend=2800)  # 2,800 JPY per conversion


def test_one_plain_target_is_refused_for_a_gbp_and_a_jpy_account(mongo: str) -> None:
    _demo_tenant("demo")
    with pytest.raises(RuleError) as refused:
        set_rules("demo", "- kind: cost_per_conversion\n  name: cpa\n  target: 20\n", by="t")
    assert "GBP (act_1)" in str(refused.value) and "JPY (act_2)" in str(refused.value)
    assert OptimizerSettings.objects(tenant_id="demo").first() is None, "nothing stored"
    # rules stored before the JPY account came are refused at evaluation too, not applied
    OptimizerSettings(
        tenant_id="demo", rules_yaml="- kind: cost_per_conversion\n  target: 20\n"
    ).save()
    with pytest.raises(RuleError, match="JPY"):
        evaluate_tenant("demo", now=NOW)
    assert evaluate_isolated("demo") is None
    failed = OptimizerSettings.objects.get(tenant_id="demo")
    assert "in no stated currency" in failed.evaluation_error
    assert Recommendation.objects(tenant_id="demo").count() == 0, "no pause at 20 yen"


@pytest.mark.parametrize(("jpy_target", "paused"), [(3500, False), (28, True)])
def test_per_currency_targets_decide_each_account_in_its_own_currency(
    mongo: str, jpy_target: int, paused: bool
) -> None:
    _demo_tenant("demo")
    text = f"- kind: cost_per_conversion\n  name: cpa\n  target: {{GBP: 20, JPY: {jpy_target}}}\n"
    set_rules("demo", text, by="t")
    evaluate_tenant("demo", now=NOW)
    found = {r.entity_id: r for r in Recommendation.objects(tenant_id="demo")}
    # 60 GBP a conversion against 20 GBP: paused, with the money named in pounds
    gbp = found["a-gbp"]
    assert gbp.action == "pause" and gbp.evidence["currency"] == "GBP"
    assert gbp.evidence["target"] == 20.0 and "GBP" in gbp.expected
    assert "JPY" not in gbp.expected
    # 2,800 JPY a conversion: within a 3,500 yen target, far above a 28 yen one
    assert ("a-jpy" in found) is paused
    if paused:
        assert found["a-jpy"].evidence["target"] == 28.0
        assert "JPY" in found["a-jpy"].expected


def test_the_backtest_totals_per_currency_and_the_cli_names_them(
    env: dict[str, str], mongo_uri: str, mongo: str, tmp_path: Path
) -> None:
    _account("mixed", "1", "USD", "a-usd", spend=60)
    _account("mixed", "2", "EUR", "a-eur", spend=45)
    set_rules("mixed", "- kind: cost_per_conversion\n  target: {USD: 20, EUR: 15}\n", by="t")
    result = backtest("mixed", days=7, now=NOW)
    assert {a.entity_id: a.currency for a in result.actions} == {"a-usd": "USD", "a-eur": "EUR"}
    # paused on the first replayed morning (a new tenant's streams start on their first
    # matured day, with the prior variation): the 7 days' spend after it in each currency
    assert result.paused_spend == {"EUR": 315.0, "USD": 420.0}, "never added across currencies"
    cli_env = {**env, "MONGODB_URI": with_database(mongo_uri, mongo), "COLUMNS": "250"}
    printed = run(["rules", "backtest", "--tenant", "mixed", "--days", "7"], cli_env)
    assert printed.returncode == 0, printed.stderr
    assert "from the day they would have: 315.00 EUR, 420.00 USD" in printed.stdout
    assert "105" not in printed.stdout
