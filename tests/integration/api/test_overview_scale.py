"""Pages that cost the same at any size: the overview is paged and searched on the server from
the kept health records, /metrics reads them in a fixed number of MongoDB commands, and every
collection that grows has a retention."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from metasync.config import load_settings
from metasync.health.pages import health_page
from metasync.health.records import refresh_health
from metasync.keys import RedisKeys
from metasync.models import (
    AccountHealthRecord,
    AccountSyncState,
    AuditEntry,
    ConversionArrivals,
    HealthTenant,
    MetaConnection,
    OperatorAction,
    Recommendation,
    utcnow,
)
from metasync.retention import purge_old_records
from tests.integration.api.conftest import PASSWORD
from tests.support.commands import CommandCounter, command_counter
from tests.support.console import login


@pytest.fixture(scope="module")
def commands() -> CommandCounter:
    return command_counter()


def _fleet(accounts: int) -> None:
    """``accounts`` ad accounts of tenant "fleet", 10 per connection, every fifth failing."""
    for start in range(0, accounts, 10):
        held = [str(900_000 + n) for n in range(start, min(start + 10, accounts))]
        connection = MetaConnection(tenant_id="fleet", meta_user_id=str(start), name=f"c{start}",
                                    ad_account_ids=held).save()  # fmt: skip
        for account in held:
            AccountSyncState(connection_id=str(connection.pk), account_id=account,
                             tenant_id="fleet", last_outcome="failed" if int(account) % 5 == 0
                             else "succeeded", last_entity_sync_at=utcnow()).save()  # fmt: skip
    refresh_health("fleet")


def test_the_overview_and_a_scrape_cost_the_same_commands_at_any_size(
    commands: CommandCounter, make_client: Callable[..., TestClient], mongo: str
) -> None:
    client = make_client(METRICS_PUBLIC="true")
    login(client, PASSWORD)
    sizes = {}
    for accounts in (30, 150):
        MetaConnection.objects(tenant_id="fleet").delete()
        _fleet(accounts)
        page = commands.sent_by(lambda: client.get("/console?flag=failing"))
        scrape = commands.sent_by(lambda: client.get("/metrics"))
        sizes[accounts] = (len(page), len(scrape))
        listed = client.get("/console").text
        assert listed.count('class="account"') == min(accounts, 50), "50 a page"
        later = client.get("/console/overview/table?page=3&flag=failing&q=9&tenant=fleet")
        assert later.status_code == 200, later.text[:200]
    assert sizes[30] == sizes[150], sizes
    assert all(page and scrape for page, scrape in sizes.values()), "the commands were counted"


def test_the_overview_is_paged_searched_and_filtered_on_the_server(mongo: str) -> None:
    _fleet(120)
    keys = RedisKeys("unused:")
    first = health_page(None, keys)
    assert len(first.accounts) == 50 and first.more and first.counts["all"] == 120
    last = health_page(None, keys, page=3)
    assert len(last.accounts) == 20 and not last.more
    seen = {h.account_id for p in (1, 2, 3) for h in health_page(None, keys, page=p).accounts}
    assert len(seen) == 120, "every account on exactly one page"
    failing = health_page(None, keys, flag="failing")
    assert failing.counts["failing"] == 24 == len(failing.accounts)
    assert all("failing" in h.flags for h in failing.accounts)
    [one] = health_page(None, keys, search="900007").accounts
    assert one.account_id == "900007" and one.connection_name == "c0"
    assert health_page(None, keys, tenant="someone-else").counts["all"] == 0


def test_every_growing_collection_has_a_retention(env: dict[str, str], mongo: str) -> None:
    settings = load_settings({**env, "RECOMMENDATION_RETENTION_DAYS": "30",
                              "OPERATOR_ACTION_RETENTION_DAYS": "30",
                              "AUDIT_RETENTION_DAYS": "60"})  # fmt: skip
    old, recent = utcnow() - timedelta(days=45), utcnow() - timedelta(days=5)
    for number, (state, at) in enumerate((("rejected", old), ("proposed", old),
                                          ("approved", old), ("rejected", recent))):  # fmt: skip
        Recommendation(tenant_id="t", key=f"k{number}", account_id="1", level="ad",
                       entity_id="e", rule="r", kind="k", action="pause", state=state,
                       proposed_at=at).save()  # fmt: skip
    OperatorAction(tenant_id="t", action="sync", target="c", by="ops", at=old).save()
    OperatorAction(tenant_id="t", action="sync", target="c", by="ops", at=recent).save()
    AuditEntry(tenant_id="t", recommendation_id="r", account_id="1", action="apply", level="ad",
               entity_id="e", field="status", at=old).save()  # fmt: skip
    removed = purge_old_records(settings)
    assert removed["recommendations"] == 1, "only the settled old one"
    assert {r.state for r in Recommendation.objects} == {"proposed", "approved", "rejected"}
    assert removed["operator_actions"] == 1 and OperatorAction.objects.count() == 1
    assert removed["optimizer_audit"] == 0, "the audit is kept longest"
    long_ago = utcnow() - timedelta(days=401)  # ACTIVITY_RETENTION_DAYS: 400
    ConversionArrivals(tenant_id="t", account_id="1", date="2025-01-01", updated_at=long_ago).save()
    ConversionArrivals(tenant_id="t", account_id="1", date="2026-11-01", updated_at=recent).save()
    assert purge_old_records(settings)["conversion_arrivals"] == 1
    assert [a.date for a in ConversionArrivals.objects] == ["2026-11-01"]


def test_a_connection_refresh_writes_what_a_tenant_refresh_writes(mongo: str) -> None:
    """A run closing rewrites its own connection's records from reads of its own accounts; the
    records and the tenant's account count come out as a whole-tenant refresh makes them."""
    _fleet(30)
    connection = MetaConnection.objects(tenant_id="fleet").order_by("created_at").first()
    AccountSyncState.objects(connection_id=str(connection.pk)).update(set__last_outcome="failed")
    MetaConnection.objects(pk=connection.pk).update(push__ad_account_ids="999999")
    fields = {"_id": 0, "updated_at": 0}
    refresh_health("fleet", str(connection.pk))
    by_connection = list(AccountHealthRecord._get_collection().find({}, fields).sort("page_key"))
    counted = HealthTenant.objects.get(tenant_id="fleet").accounts
    refresh_health("fleet")
    by_tenant = list(AccountHealthRecord._get_collection().find({}, fields).sort("page_key"))
    assert by_connection == by_tenant and counted == len(by_tenant) == 31
    assert sum(r["failing"] for r in by_tenant) == 14, "its 10, and 4 of the other 20"
