"""The evaluation reads in step with the long re-read: a day enters a matured stream only once
a re-read started after its attribution window closed (a real MongoDB-wire server)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from metasync.config import get_settings
from metasync.models import AccountSyncState, OptimizerStream
from metasync.optimize.evaluate import evaluate_tenant
from metasync.optimize.settings import set_rules
from tests.support.optimizer_mirror import NOW, RULES, YESTERDAY, build_mirror


def test_a_day_not_re_read_since_its_window_closed_waits_for_the_next_re_read(mongo: str) -> None:
    build_mirror("t1")
    set_rules("t1", RULES, by="test")
    state = AccountSyncState(tenant_id="t1", connection_id="c1", account_id="1")
    # today's long re-read has not run yet: the last one started yesterday (UTC account)
    state.last_lookback_at = NOW - timedelta(days=1)
    state.save()
    evaluate_tenant("t1", now=NOW)
    stream = OptimizerStream.objects.get(tenant_id="t1", entity_id="a-expensive")
    assert stream.through == (YESTERDAY - timedelta(days=8)).isoformat()
    # today's re-read ran: the day whose 7-day window closed yesterday enters the stream
    state.update(set__last_lookback_at=NOW - timedelta(hours=11))
    evaluate_tenant("t1", now=NOW)
    stream.reload()
    assert stream.through == (YESTERDAY - timedelta(days=7)).isoformat()


def test_the_lookback_setting_bounds_the_days_the_evaluation_reads(
    mongo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the long re-read reaches 10 days back, not the default 28: a new stream starts at the
    # oldest day that re-read covered, not at the oldest row in the mirror
    monkeypatch.setenv("META_INSIGHTS_LOOKBACK_DAYS", "10")
    get_settings.cache_clear()
    try:
        build_mirror("t1")
        set_rules("t1", RULES, by="test")
        state = AccountSyncState(tenant_id="t1", connection_id="c1", account_id="1")
        state.last_lookback_at = NOW - timedelta(hours=11)  # today's re-read ran
        state.save()
        evaluate_tenant("t1", now=NOW)
    finally:
        monkeypatch.delenv("META_INSIGHTS_LOOKBACK_DAYS")
        get_settings.cache_clear()
    stream = OptimizerStream.objects.get(tenant_id="t1", entity_id="a-expensive")
    assert stream.start == (YESTERDAY - timedelta(days=9)).isoformat()
    assert stream.through == (YESTERDAY - timedelta(days=7)).isoformat()
