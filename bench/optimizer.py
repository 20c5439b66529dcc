"""The optimizer on a synced sandbox world: what the rules propose, what a 30-day backtest says
they would have done, and what an evaluation costs.

World: 1 user x 2 ad accounts x 6 campaigns x 3 ad sets x 4 ads, 45 days of insights. Every ad
gets a performance profile drawn from the seed (the sandbox's control API, see
``metasync/sandbox/delivery.py``): most are ordinary (cost per conversion about 3 to 15), one
in eight expensive (no conversions), one in eight fatigued (click-through falling 15 % a day
over the last 14 days); one ad set in five wins (order value 100, a return near 10). One live
ad set in six is still learning and one in six learning limited; the rest have left learning.

Steps: a full entity sync and a performance sync of 44 days (inline), the README's rules, then

- evaluate: recommendations by rule, the seconds it took, and the same daily rows read raw
  with pymongo (the ratio is the optimizer's overhead over reading its input);
- backtest 30 days: actions by rule and the spend on ads it would have paused from that day on.

    .venv/bin/python -m bench.optimizer
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import bench_services, connected, save, table
from metasync import db
from metasync.models import DailyInsight, Recommendation
from metasync.optimize.backtest import backtest
from metasync.optimize.evaluate import evaluate_tenant
from metasync.optimize.figures import number
from metasync.optimize.settings import set_rules
from metasync.sandbox.server import SandboxControl
from metasync.sandbox.world import WorldSize
from metasync.sync import Period, run_inline
from metasync.sync.connections import add_connection

SIZE = WorldSize(
    users=1,
    accounts_per_user=2,
    campaigns_per_account=6,
    adsets_per_campaign=3,
    ads_per_adset=4,
    days=45,
)
SEED = 17
TENANT = "bench-optimizer"
RULES = """
rules:
  - kind: cost_per_conversion
    target: {USD: 20, EUR: 20}  # the world's two accounts spend USD and EUR
  - kind: return_on_spend
    target: 4
    days: 3
    max_daily_budget: {USD: 500, EUR: 500}
  - kind: creative_fatigue
  - kind: learning_limited
  - kind: budget_reallocation
"""


def _profile(rng: random.Random, winning: bool) -> dict[str, float]:
    if winning:
        return {"cpm": 10, "ctr": 0.02, "purchase_rate": 0.05, "order_value": 100}
    draw = rng.random()
    base = {
        "cpm": round(rng.uniform(6, 14), 2),
        "ctr": round(rng.uniform(0.01, 0.03), 4),
        "purchase_rate": round(rng.uniform(0.05, 0.15), 3),
        "order_value": round(rng.uniform(8, 30), 2),
        "frequency": round(rng.uniform(1.1, 2.0), 2),
    }
    if draw < 0.125:
        return {**base, "purchase_rate": 0.0}
    if draw < 0.25:
        return {**base, "frequency": 4.0, "ctr_decay": 0.85}
    return base


def _shape(sandbox: SandboxControl) -> None:
    """Give the world's ads profiles and its live ad sets learning stages (seeded)."""
    truth = sandbox.truth()
    rng = random.Random(SEED)
    adsets = sorted(truth["adsets"], key=lambda s: s["id"])
    winners = {s["id"] for s in adsets if rng.random() < 0.2}
    for ad in sorted(truth["ads"], key=lambda a: a["id"]):
        profile = _profile(rng, ad["adset_id"] in winners)
        body = {"id": ad["id"], "action": "performance", "fields": profile}
        sandbox.control("POST", "mutate", body)
    limited_since = int((datetime.now(UTC) - timedelta(days=10)).timestamp())
    for adset in adsets:
        if adset["effective_status"] != "ACTIVE":
            continue
        draw = rng.random()
        stage: dict[str, Any] = {"status": "SUCCESS"}
        if draw < 1 / 6:
            stage = {"status": "LEARNING"}
        elif draw < 2 / 6:
            stage = {"status": "FAIL", "since": limited_since}
        sandbox.control(
            "POST", "mutate", {"id": adset["id"], "action": "learning", "fields": stage}
        )


def _raw_read_seconds(since: date) -> float:
    """The daily rows an evaluation reads, read raw (pymongo), in seconds."""
    started = time.monotonic()
    collection = db.database()["daily_insights"]
    query = {
        "tenant_id": TENANT,
        "level": {"$in": ["ad", "adset"]},
        "breakdown_key": "",
        "attribution_key": "default",
        "date": {"$gte": since.isoformat()},
    }
    list(collection.find(query).sort("date", 1))
    return time.monotonic() - started


def _amounts(by_currency: dict[str, float]) -> str:
    """Amounts per currency, each naming its currency ("none" when empty)."""
    return (
        ", ".join(f"{v:,.2f} {c or '(currency unknown)'}" for c, v in by_currency.items()) or "none"
    )


def main() -> None:
    results: dict[str, Any] = {"world": SIZE.__dict__, "seed": SEED, "rules": RULES}
    with bench_services("optimizer", seed=SEED, size=SIZE) as services:
        env = services.environment("bench_optimizer", META_RATE_LIMIT_CALLS_PER_HOUR="100000")
        ctx = connected(env)
        _shape(services.sandbox)
        connection = add_connection(ctx, TENANT, services.info["users"][0]["token"])
        run_inline(ctx, str(connection.pk), full=True)
        today = datetime.now(UTC).date()
        period = Period(since=today - timedelta(days=44), until=today - timedelta(days=1))
        run_inline(ctx, str(connection.pk), kind="performance", period=period)
        set_rules(TENANT, RULES, by="bench")
        started = time.monotonic()
        evaluation = evaluate_tenant(TENANT)
        seconds = time.monotonic() - started
        raw = min(_raw_read_seconds(today - timedelta(days=22)) for _ in range(3))
        proposed = Counter(r.kind for r in Recommendation.objects(tenant_id=TENANT))
        replay = backtest(TENANT, days=30)
        window = DailyInsight.objects(
            tenant_id=TENANT, level="ad", date__gte=(today - timedelta(days=30)).isoformat()
        )
        total_spend: dict[str, float] = {}  # per currency: accounts' spend is never added across
        for row in window.only("spend", "currency"):
            code = (row.currency or "").upper()
            total_spend[code] = total_spend.get(code, 0.0) + number(row.spend)
        db.database().client.drop_database("bench_optimizer")
    by_rule: dict[str, dict[str, Any]] = {}
    for action in replay.actions:
        entry = by_rule.setdefault(
            action.rule, {"actions": 0, "entities": set(), "paused_spend": {}}
        )
        entry["actions"] += 1
        entry["entities"].add(action.entity_id)
        if action.action == "pause":
            code = action.currency or ""
            paused_by = entry["paused_spend"]
            paused_by[code] = round(paused_by.get(code, 0.0) + action.spend_after, 2)
    results["evaluation"] = {
        "proposed": dict(proposed),
        "held_back": evaluation.held_back,
        "seconds": round(seconds, 3),
        "raw_read_seconds": round(raw, 3),
        "ratio_to_raw_read": round(seconds / raw, 1) if raw else None,
    }
    results["backtest"] = {
        rule: {**v, "entities": len(v["entities"])} for rule, v in sorted(by_rule.items())
    }
    results["backtest_paused_spend"] = replay.paused_spend
    # per currency (ISO code; "": accounts whose currency is not known), major units
    results["backtest_total_spend"] = {c: round(v, 2) for c, v in sorted(total_spend.items())}
    print(f"Evaluation: {dict(proposed)}; held back {evaluation.held_back}")
    print(f"  {seconds:.2f} s, {seconds / raw:.1f} x a raw read of its rows ({raw:.2f} s)\n")
    rows = [
        [rule, v["actions"], v["entities"], _amounts(v["paused_spend"])]
        for rule, v in results["backtest"].items()
    ]
    print("Backtest, 30 days:")
    print(table(["rule", "actions", "entities", "spend after pause"], rows))
    print(f"\nspend on ads the rules would have paused: {_amounts(replay.paused_spend)}")
    print(f"spend of every ad over the 30 days: {_amounts(results['backtest_total_spend'])}")
    print(f"saved to {save('optimizer', results)}")


if __name__ == "__main__":
    main()
