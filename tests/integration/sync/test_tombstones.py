"""Tombstones only after a complete listing, marked by run id, and confirmed above a share."""

from __future__ import annotations

import pytest

from metasync.models import Ad, Campaign, MetaConnection, RunStatus, SyncRun
from metasync.sync import SyncContext, run_inline
from metasync.sync.read import edges as entity_sync
from metasync.sync.shapes.edges import EDGES
from metasync.sync.write.tombstones import decide, tombstone_edge
from tests.support.sandbox import Sandbox


def _full(ctx: SyncContext, connection: MetaConnection) -> SyncRun:
    started = run_inline(ctx, str(connection.pk), full=True)
    return SyncRun.objects.get(pk=started.run_id)


def test_a_listing_that_repeats_a_cursor_tombstones_nothing_and_the_run_says_why(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before the fix the pager stopped on the repeated cursor, the edge counted as complete,
    and the full run tombstoned every live object after the loop, then reported succeeded."""
    connection = connections[0]
    assert _full(ctx, connection).status == RunStatus.SUCCEEDED
    live = Ad.objects(tenant_id=connection.tenant_id, deleted_at=None).count()
    monkeypatch.setattr(entity_sync, "PAGE_SIZE", 2)  # several pages per edge
    world.control("POST", "faults", {"repeat_cursor_rate": 1.0})

    run = _full(ctx, connection)

    assert run.status == RunStatus.PARTIAL
    incomplete = [e for e in run.errors if e["type"] == "IncompleteListing"]
    assert incomplete and "repeated a paging cursor" in incomplete[0]["message"]
    assert not run.tombstoned
    assert Ad.objects(tenant_id=connection.tenant_id, deleted_at=None).count() == live
    assert Campaign.objects(tenant_id=connection.tenant_id, deleted_at__ne=None).count() == 0


def test_above_the_allowed_share_each_candidate_is_read_by_id_first(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    _full(ctx, connection)
    account = connection.ad_account_ids[0]
    campaigns = [
        c.meta_id for c in Campaign.objects(tenant_id=connection.tenant_id, account_id=account)
    ]
    purged = campaigns[0]
    world.control("POST", "mutate", {"id": purged, "action": "purge"})
    world.control("POST", "counters")

    # A run whose listing returned none of the account's campaigns: every one is a candidate
    # (100 % > 20 %), so each is read by id; only the one Meta no longer knows is marked.
    outcome = tombstone_edge(
        ctx.client_for(connection),
        Campaign,
        tenant_id=connection.tenant_id,
        account_id=account,
        run_id="a-run-that-listed-nothing",
        fields=EDGES["campaigns"].fields,
        max_share=0.2,
    )

    assert outcome.marked == 1
    assert sorted(str(c["id"]) for c in outcome.confirmed_alive) == sorted(campaigns[1:])
    gone = Campaign.objects.get(tenant_id=connection.tenant_id, meta_id=purged)
    assert gone.deleted_at is not None
    assert (
        Campaign.objects(
            tenant_id=connection.tenant_id, account_id=account, deleted_at=None
        ).count()
        == len(campaigns) - 1
    )
    by_path = world.control("GET", "counters")["by_path"]
    assert by_path.get("POST /", 0) >= 1  # one batch of single reads
    assert by_path.get("GET /", 0) == 0  # no multi-id read: closed to new apps
    assert "read by id" in outcome.reason


def test_a_full_run_tombstones_what_it_did_not_list_by_run_id(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    first = _full(ctx, connection)
    ad = Ad.objects(tenant_id=connection.tenant_id).first()
    assert ad.last_seen_run == str(first.pk)
    world.control("POST", "mutate", {"id": ad.meta_id, "action": "purge"})
    second = _full(ctx, connection)
    assert second.status == RunStatus.SUCCEEDED
    assert second.tombstoned.get("ads") == 1
    assert Ad.objects.get(pk=ad.pk).deleted_at is not None
    seen = Ad.objects(tenant_id=connection.tenant_id, deleted_at=None)
    assert {a.last_seen_run for a in seen} == {str(second.pk)}


@pytest.mark.parametrize(
    ("candidates", "live", "mark", "confirm"),
    [
        ([], 10, 0, 0),
        (["a", "b"], 10, 2, 0),  # 20 %: at the bound, marked
        (["a", "b", "c"], 10, 0, 3),  # 30 %: confirmed one by one
        (["a"], 1, 0, 1),  # the only live object
    ],
)
def test_decide(candidates: list[str], live: int, mark: int, confirm: int) -> None:
    decision = decide(candidates, live, 0.2)
    assert (len(decision.mark), len(decision.confirm)) == (mark, confirm)
    assert decision.reason
