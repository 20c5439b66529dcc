"""A performance sync against the sandbox records what it read of each account day's
conversions, by the day's age (the data the optimizer learns reporting lag from)."""

from __future__ import annotations

from datetime import date

import pytest

from metasync.models import AdAccount, ConversionArrivals, DailyInsight, MetaConnection
from metasync.sync import SyncContext, run_inline
from metasync.sync.periods import account_today
from tests.support.inline import perf
from tests.support.sandbox import Sandbox


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return {**sync_env, "META_RATE_LIMIT_CALLS_PER_HOUR": "100000"}


def test_a_sync_records_each_account_day_at_its_age(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    world.control("POST", "faults", {"job_seconds": 0.05})
    connection = connections[0]
    run_inline(ctx, str(connection.pk))
    assert perf(ctx, connection).status == "succeeded"
    for account_id in connection.ad_account_ids:
        account = AdAccount.objects.get(tenant_id=connection.tenant_id, account_id=account_id)
        today = account_today(account.timezone_name)
        rows = {
            r.date: float(r.conversions)
            for r in DailyInsight.objects(
                tenant_id=connection.tenant_id, account_id=account_id, level="account"
            )
        }
        recorded = {
            a.date: a.seen
            for a in ConversionArrivals.objects(
                tenant_id=connection.tenant_id, account_id=account_id
            )
        }
        assert rows and set(recorded) == set(rows)
        for day, conversions in rows.items():
            age = min((today - date.fromisoformat(day)).days, 28)
            assert recorded[day] == {str(age): conversions}, day
