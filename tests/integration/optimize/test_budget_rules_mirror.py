"""The budget rules evaluated on a mirror in a real MongoDB-wire server: a reallocation between
two ad sets of one campaign, and a pacing flag read from an hourly report's rows (and a note,
not a guess, when there are none)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from metasync.models import AdAccount, AdSet, Recommendation, ReportRow, breakdown_key
from metasync.optimize.evaluate import evaluate_tenant
from metasync.optimize.figures import BY_ADVERTISER_HOUR
from metasync.optimize.settings import set_rules
from tests.support.optimizer_mirror import NOW, YESTERDAY, rows

RULES = """
- kind: budget_reallocation
- kind: spend_pacing
  before_hour: 18
"""


def _mirror(tenant: str) -> None:
    AdAccount(
        tenant_id=tenant, meta_id="act_1", account_id="1", currency="USD", timezone_name="UTC"
    ).save()
    for meta_id, budget in (("s-dear", "100.00"), ("s-cheap", "50.00")):
        AdSet(
            tenant_id=tenant, meta_id=meta_id, account_id="1", campaign_id="c1",
            status="ACTIVE", effective_status="ACTIVE", updated_time=NOW - timedelta(days=30),
            learning_stage_info={"status": "SUCCESS"}, daily_budget=Decimal(budget),
        ).save()  # fmt: skip
    # 9 matured days each: the 7-day click window leaves the last 7 out, and a day enters a
    # stream once the account's day-to-day variation can be estimated from 10 pairs of days
    # before it (5 days of these two ad sets)
    rows(tenant, "adset", "s-dear", 21, spend=100, conversions=2)  # 50 a conversion
    rows(tenant, "adset", "s-cheap", 21, spend=100, conversions=20)  # 5 a conversion


def _hourly(tenant: str, adset: str, days: int, per_hour: str) -> None:
    for back in range(days):
        day = (YESTERDAY - timedelta(days=back)).isoformat()
        for hour in range(24):
            value = {BY_ADVERTISER_HOUR: f"{hour:02d}:00:00 - {hour:02d}:59:59"}
            ReportRow(
                tenant_id=tenant, account_id="1", report="hourly", level="ad",
                entity_id=f"{adset}-ad", adset_id=adset, span=day, date_start=day,
                date_stop=day, breakdowns=value, breakdown_key=breakdown_key(value),
                spend=Decimal(per_hour),
            ).save()  # fmt: skip


def test_a_reallocation_is_proposed_and_pacing_reads_the_hourly_rows(mongo: str) -> None:
    _mirror("b1")
    set_rules("b1", RULES, by="test")
    first = evaluate_tenant("b1", now=NOW)
    assert any("no hourly report rows" in note for note in first.notes)
    [move] = Recommendation.objects(tenant_id="b1")
    assert (move.kind, move.entity_id, move.action) == (
        "budget_reallocation",
        "s-dear",
        "reallocate_budget",
    )
    assert move.change == {"daily_budget": 10_000 - 1_000}, "20 % of the smaller budget"
    assert move.evidence["to"]["entity_id"] == "s-cheap"
    assert move.evidence["to"]["daily_budget_after"] == 5_000 + 1_000
    # the cheap ad set (50.00 a day) spends 10.00 an hour: it reaches what Meta lets it spend
    # that day (87.50, or less late in a week) in the morning on two days: flagged
    _hourly("b1", "s-cheap", 2, "10.00")
    _hourly("b1", "s-dear", 2, "1.00")  # 24.00 a day of 100.00: never early
    second = evaluate_tenant("b1", now=NOW)
    assert second.notes == [] and second.known == 1, "the reallocation is not proposed twice"
    [flag] = Recommendation.objects(tenant_id="b1", kind="spend_pacing")
    assert (flag.entity_id, flag.action, flag.change) == ("s-cheap", "flag", {})
    early = flag.evidence["spent_early"]
    assert len(early) == 2 and all(d["hour"] <= 8 and d["ceiling"] <= 87.5 for d in early)
