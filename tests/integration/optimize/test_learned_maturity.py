"""Maturity learned from the account's own reads, and read in step with the long re-read (a
real MongoDB-wire server; the reads recorded by the sync's own recording function)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from metasync.models import (
    AccountSyncState,
    Ad,
    AdSet,
    ConversionArrivals,
    DailyInsight,
    OptimizerStream,
)
from metasync.optimize.evaluate import evaluate_tenant, subjects_of
from metasync.optimize.settings import set_rules
from metasync.sync.write.arrivals import record_arrivals
from tests.support.optimizer_mirror import NOW, RULES, YESTERDAY, build_mirror, rows

ONE_DAY_CLICK = [{"event_type": "CLICK_THROUGH", "window_days": 1}]
PER_DAY = 200  # the account's conversions a day


def _visible(age: int, late_days: int) -> float:
    """A day's conversions a read at ``age`` sees: 70 % from age 1, the other 30 % arriving
    evenly over the ``late_days`` days after (none late when 0)."""
    if age < 1:
        return 0.0
    if late_days == 0:
        return float(PER_DAY)
    late = 0.3 * PER_DAY * min(age - 1, late_days) / late_days
    return round(0.7 * PER_DAY + late, 3)


def _sync_reads(tenant: str, late_days: int, history: int = 60) -> None:
    """What ``history`` + 28 days of daily long re-reads recorded: each reads the 28 days
    before it and itself, one page of account-level rows."""
    first = YESTERDAY - timedelta(days=history + 28)
    for n in range(history + 29):
        read_on = first + timedelta(days=n)
        page = [
            {
                "tenant_id": tenant,
                "account_id": "1",
                "level": "account",
                "entity_id": "1",
                "date": (read_on - timedelta(days=age)).isoformat(),
                "breakdown_key": "",
                "attribution_key": "default",
                "conversions": Decimal(str(_visible(age, late_days))),
            }
            for age in range(29)
        ]
        record_arrivals(page, "UTC", datetime.combine(read_on, time(3), tzinfo=UTC))


def _one_day_click(tenant: str) -> None:
    AdSet.objects(tenant_id=tenant, meta_id="s-win").update(set__attribution_spec=ONE_DAY_CLICK)


def _maturity(tenant: str, entity: str) -> int:
    subjects, _ = subjects_of(tenant, NOW)
    return next(s.maturity_days for s in subjects if s.entity_id == entity)


def test_late_conversions_teach_a_maturity_beyond_the_1_day_window(mongo: str) -> None:
    build_mirror("t1")
    _one_day_click("t1")
    set_rules("t1", RULES, by="test")
    assert _maturity("t1", "a-expensive") == 7, "no history yet: the conservative default"
    _sync_reads("t1", late_days=10)  # 30 % arrive 2 .. 11 days after the day
    recorded = ConversionArrivals.objects.get(
        tenant_id="t1", date=(YESTERDAY - timedelta(days=40)).isoformat()
    )
    assert recorded.seen["1"] == 140 and recorded.seen["28"] == PER_DAY
    # a read at age m + 1 may miss at most 2 %: 30 % x (11 - (m + 1)) / 10 <= 2 % -> m = 10
    assert _maturity("t1", "a-expensive") == 10
    assert _maturity("t1", "s-win") == 10
    evaluate_tenant("t1", now=NOW)
    stream = OptimizerStream.objects.get(tenant_id="t1", entity_id="a-expensive")
    assert stream.through == (YESTERDAY - timedelta(days=10)).isoformat()


def test_an_account_whose_conversions_arrive_on_time_matures_with_its_window(mongo: str) -> None:
    build_mirror("t1")
    _one_day_click("t1")
    set_rules("t1", RULES, by="test")
    _sync_reads("t1", late_days=0)
    assert _maturity("t1", "a-expensive") == 1
    evaluate_tenant("t1", now=NOW)
    stream = OptimizerStream.objects.get(tenant_id="t1", entity_id="a-expensive")
    assert stream.through == (YESTERDAY - timedelta(days=1)).isoformat()


def test_reading_the_same_day_twice_at_one_age_records_it_once(mongo: str) -> None:
    day = date(2026, 11, 1)
    row = {
        "tenant_id": "t1",
        "account_id": "1",
        "level": "account",
        "date": day.isoformat(),
        "breakdown_key": "",
        "attribution_key": "default",
        "conversions": Decimal(7),
    }
    ad_row = {**row, "level": "ad", "conversions": Decimal(99)}
    at = datetime(2026, 11, 3, 9, tzinfo=UTC)
    assert record_arrivals([row, ad_row], "UTC", at) == 1, "only the account's total is kept"
    record_arrivals([{**row, "conversions": Decimal(9)}], "UTC", at + timedelta(hours=6))
    record_arrivals([row], "UTC", at + timedelta(hours=7))  # an older page written again
    assert ConversionArrivals.objects.get(tenant_id="t1").seen == {"2": 9.0}


def test_a_day_the_re_read_did_not_cover_since_it_matured_never_enters_a_stream(
    mongo: str,
) -> None:
    build_mirror("t1")
    # rows of 2 x 21 + 7 days are read: the whole gap below is in them
    set_rules("t1", RULES.replace("target: 20", "target: 20\n    days: 21"), by="test")
    for ad in ("a-gap", *(f"a-peer{n}" for n in range(8))):  # peers: the account's variation
        Ad(
            tenant_id="t1",
            meta_id=ad,
            account_id="1",
            adset_id="s-win",
            status="ACTIVE",
            effective_status="ACTIVE",
            updated_time=NOW - timedelta(days=90),
        ).save()
        rows("t1", "ad", ad, 60, spend=10, conversions=1)
    gap = DailyInsight.objects(
        tenant_id="t1",
        entity_id="a-gap",
        date__gte=(YESTERDAY - timedelta(days=46)).isoformat(),
        date__lte=(YESTERDAY - timedelta(days=28)).isoformat(),
    )
    assert gap.update(set__conversions=Decimal(100)) == 19  # days no re-read saw matured
    state = AccountSyncState(tenant_id="t1", connection_id="c1", account_id="1")
    then = NOW - timedelta(days=40)  # the last evaluation, just after that day's re-read
    state.last_lookback_at = then - timedelta(hours=9)
    state.save()
    evaluate_tenant("t1", now=then)
    stream = OptimizerStream.objects.get(tenant_id="t1", entity_id="a-gap")
    assert stream.through == (YESTERDAY - timedelta(days=47)).isoformat()
    before = (stream.days, stream.conversions)
    assert before[0] > 0
    # no evaluation for 40 days; today's long re-read covered today and the 28 days before
    state.update(set__last_lookback_at=NOW - timedelta(hours=9))
    evaluate_tenant("t1", now=NOW)
    stream.reload()
    assert stream.through == (YESTERDAY - timedelta(days=7)).isoformat()
    # only days re-read since they matured, YESTERDAY - 27 (today - 28) .. YESTERDAY - 7, were
    # added (one conversion each); the 19 days before were last read before they matured
    added = stream.days - before[0]
    assert 0 < added <= 21
    assert stream.conversions - before[1] == added, "no day of the unread gap entered"
