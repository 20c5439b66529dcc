"""State per ad account: one failing account costs only itself; accounts come and go."""

from __future__ import annotations

from datetime import timedelta

from metasync.models import (
    AccountState,
    AccountSyncState,
    MetaConnection,
    RunPlan,
    RunStatus,
    SyncRun,
)
from metasync.sync import SyncContext, run_inline
from metasync.sync.connections import add_connection
from tests.support.sandbox import Sandbox


def _run(
    ctx: SyncContext, connection: MetaConnection, world: Sandbox, **kwargs: object
) -> tuple[SyncRun, int]:
    world.control("POST", "counters")
    started = run_inline(ctx, str(connection.pk), **kwargs)  # type: ignore[arg-type]
    return SyncRun.objects.get(pk=started.run_id), world.graph_calls()


def _connections(ctx: SyncContext, world: Sandbox) -> tuple[MetaConnection, MetaConnection, str]:
    """A clean connection of user 0's accounts, and one with the same accounts plus an account
    of user 1 that user 0's token may not read (Meta answers (#200) every time)."""
    mine = [a.removeprefix("act_") for a in world.user(0)["ad_account_ids"]]
    foreign = world.user(1)["ad_account_ids"][0].removeprefix("act_")
    clean = add_connection(ctx, "clean", world.user(0)["token"], mine)
    failing = add_connection(ctx, "failing", world.user(0)["token"], [*mine, foreign])
    return clean, failing, foreign


def test_one_unreadable_account_costs_only_itself(ctx: SyncContext, world: Sandbox) -> None:
    """Before: the partial first run left the connection's watermark where it was, so every
    later entity run was full and every performance run an initial 30-day one, for every
    account, and the unreadable account cost a batch of account reads on each run."""
    clean, failing, foreign = _connections(ctx, world)
    for connection in (clean, failing):
        _run(ctx, connection, world)
        _run(ctx, connection, world, kind="performance")
    state = AccountSyncState.objects.get(connection_id=str(failing.pk), account_id=foreign)
    assert state.state == AccountState.UNREADABLE and "permission" in (state.reason or "")

    _, clean_calls = _run(ctx, clean, world)
    entities, calls = _run(ctx, failing, world)
    assert entities.status == RunStatus.SUCCEEDED
    assert entities.full == 0 and RunPlan.of(entities.pk).full_accounts == []
    # each account's details (a batch item each, no multi-id read), then 8 edges per account
    assert calls == clean_calls == 9 * len(clean.ad_account_ids)
    assert list(RunPlan.of(entities.pk).account_outcomes) == ["succeeded"]
    assert sorted(RunPlan.of(entities.pk).account_outcomes["succeeded"]) == sorted(
        clean.ad_account_ids
    )

    clean_perf, clean_perf_calls = _run(ctx, clean, world, kind="performance")
    perf, perf_calls = _run(ctx, failing, world, kind="performance")
    assert list(RunPlan.of(perf.pk).period_kinds) == ["recent"]
    assert sorted(RunPlan.of(perf.pk).period_kinds["recent"]) == sorted(clean.ad_account_ids)
    assert perf_calls == clean_perf_calls
    assert perf.status == clean_perf.status == RunStatus.SUCCEEDED


def test_an_unreadable_account_is_probed_once_per_discovery_interval(
    ctx: SyncContext, world: Sandbox
) -> None:
    _, failing, foreign = _connections(ctx, world)
    first, _ = _run(ctx, failing, world)
    assert first.status == RunStatus.PARTIAL
    assert [e["account_id"] for e in first.errors] == [foreign]
    state = AccountSyncState.objects.get(connection_id=str(failing.pk), account_id=foreign)
    state.update(set__last_probe_at=state.last_probe_at - timedelta(hours=25))
    world.control(
        "POST", "users/accounts", {"user_id": world.user(0)["id"], "add": [foreign]}
    )  # access granted meanwhile
    probed, _ = _run(ctx, failing, world)
    assert foreign in RunPlan.of(probed.pk).accounts
    assert probed.status == RunStatus.SUCCEEDED
    state.reload()
    assert state.state == AccountState.ACTIVE
    assert foreign in RunPlan.of(probed.pk).full_accounts  # never synced before: read in full


def test_accounts_are_discovered_again(ctx: SyncContext, world: Sandbox) -> None:
    user = world.user(0)
    connection = add_connection(ctx, "agency", user["token"])
    assert connection.discover_accounts
    first, _ = _run(ctx, connection, world)
    assert first.status == RunStatus.SUCCEEDED
    kept, dropped = (a.removeprefix("act_") for a in user["ad_account_ids"])
    joined = world.user(1)["ad_account_ids"][0].removeprefix("act_")
    world.control(
        "POST", "users/accounts", {"user_id": user["id"], "add": [joined], "remove": [dropped]}
    )

    # discovery is daily: until then the dropped account is read, refused, and set aside
    not_yet, _ = _run(ctx, connection, world)
    assert not_yet.status == RunStatus.PARTIAL
    assert [e["account_id"] for e in not_yet.errors] == [dropped]
    assert RunPlan.of(not_yet.pk).accounts == [kept]

    MetaConnection.objects(pk=connection.pk).update(
        set__accounts_discovered_at=first.started_at - timedelta(hours=25)
    )
    later, _ = _run(ctx, connection, world)
    assert later.status == RunStatus.SUCCEEDED
    assert sorted(RunPlan.of(later.pk).accounts) == sorted([kept, joined])
    assert RunPlan.of(later.pk).full_accounts == [joined]
    lost = AccountSyncState.objects.get(connection_id=str(connection.pk), account_id=dropped)
    assert lost.state == AccountState.LOST and "no longer listed" in (lost.reason or "")
    by_account = world.control("GET", "counters")["by_account"]
    assert dropped not in by_account  # a lost account costs no calls
    assert sorted(MetaConnection.objects.get(pk=connection.pk).ad_account_ids) == sorted(
        [kept, joined]
    )
