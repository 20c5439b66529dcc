"""Every failure exits non-zero with one line naming the fix: an unknown tenant, no worker to
take a sync; and output that can be pasted: ids and names whole at 80 columns."""

from __future__ import annotations

import time

import pytest

from metasync.models import AdAccount, ConnectionStatus, MetaConnection, SyncRun, TenantReport
from tests.integration.test_cli import run, with_database

MISTYPED = "demo-tenant-l"  # an l for a 1


@pytest.fixture
def cli_env(env: dict[str, str], mongo_uri: str, mongo: str) -> dict[str, str]:
    return {**env, "MONGODB_URI": with_database(mongo_uri, mongo), "COLUMNS": "80"}


def _tenant(tenant: str, accounts: dict[str, str]) -> MetaConnection:
    connection = MetaConnection(
        tenant_id=tenant,
        meta_user_id="10000001",
        status=ConnectionStatus.ACTIVE,
        ad_account_ids=list(accounts),
    )
    connection.save()
    for number, name in accounts.items():
        AdAccount(
            tenant_id=tenant, meta_id=f"act_{number}", account_id=number, name=name, currency="EUR"
        ).save()
    return connection


@pytest.mark.parametrize(
    "command",
    [
        ["reports", "enable", "country", "--tenant", MISTYPED],
        ["export", "currency", "--tenant", MISTYPED, "EUR"],
        ["rules", "list", "--tenant", MISTYPED],
        ["recommendations", "list", "--tenant", MISTYPED],
        ["verify", "--tenant", MISTYPED],
        ["sync", "--tenant", MISTYPED],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_an_unknown_tenant_is_refused_naming_the_known_ones(
    cli_env: dict[str, str], command: list[str]
) -> None:
    _tenant("demo-tenant-1", {"1001": "Shoes"})
    _tenant("demo-tenant-2", {"2001": "Hats"})
    result = run(command, cli_env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip() == (
        f"error: no tenant {MISTYPED!r}; known tenants: demo-tenant-1, demo-tenant-2 "
        "(metasync tenants shows them)"
    )
    assert TenantReport.objects(tenant_id=MISTYPED).count() == 0, "nothing stored for it"


@pytest.mark.parametrize(
    ("command", "lines"),
    [
        (["reports", "access"], ["no report access recorded for tenant demo-tenant-1"]),
        (["recommendations", "list"], ["no recommendations for tenant demo-tenant-1"]),
        (
            ["recommendations", "list", "--state", "applied"],
            ["no recommendations in state applied for tenant demo-tenant-1"],
        ),
        (
            ["history", "--object", "2385"],
            [
                "Meta's activity log: no entries for 2385 of tenant demo-tenant-1",
                "values metasync saw change: none for 2385 of tenant demo-tenant-1",
            ],
        ),
    ],
    ids=lambda value: " ".join(value[:2]) if isinstance(value[0], str) else "",
)
def test_nothing_to_show_is_said_in_a_line_not_an_empty_table(
    cli_env: dict[str, str], command: list[str], lines: list[str]
) -> None:
    """Before: an empty grid (headers, no rows) and exit 0, which reads as a failure to load."""
    _tenant("demo-tenant-1", {"1001": "Shoes"})
    result = run([*command, "--tenant", "demo-tenant-1"], cli_env)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.strip().splitlines() == lines, result.stdout


def test_tenants_lists_connections_and_accounts_with_names_whole_at_80_columns(
    cli_env: dict[str, str],
) -> None:
    first = _tenant("demo-tenant-1", {"120330000000001": "Spring shoes, Europe", "1002": "Boots"})
    second = _tenant("demo-tenant-2", {"120330000000009": "Hats"})
    result = run(["tenants"], cli_env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for whole in (str(first.pk), str(second.pk), "act_120330000000001", "act_120330000000009"):
        assert whole in out, (whole, out)  # on one line, not cut or folded
    assert "    act_120330000000009 Hats (EUR)" in out.splitlines()
    assert f"  connection {first.pk} (ACTIVE, Meta user 10000001)" in out.splitlines()
    assert "2 tenant(s)" in out


def test_runs_keeps_ids_whole_at_80_columns(cli_env: dict[str, str]) -> None:
    connection = _tenant("demo-tenant-1", {"1001": "Shoes"})
    runs = [
        SyncRun(connection_id=str(connection.pk), tenant_id="demo-tenant-1", kind=kind).save()
        for kind in ("entities", "performance")
    ]
    result = run(["runs"], cli_env)
    assert result.returncode == 0, result.stderr
    for found in runs:
        line = next(line for line in result.stdout.splitlines() if str(found.pk) in line)
        assert str(connection.pk) in line and "demo-tenant-1" in line


@pytest.mark.usefixtures("redis_client")
def test_a_sync_no_worker_takes_fails_within_its_bound_naming_the_prefix(
    cli_env: dict[str, str], redis_prefix: str
) -> None:
    """Before: with no worker on the key prefix it waited out --timeout on "0/None subtasks"."""
    _tenant("demo-tenant-1", {"1001": "Shoes"})
    started = time.monotonic()
    result = run(
        ["sync-performance", "--tenant", "demo-tenant-1", "--start-timeout", "2"],
        {**cli_env, "REDIS_KEY_PREFIX": redis_prefix},
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 1, (result.stdout, result.stderr)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: no worker took the 1 queued sync(s) within ")
    assert f"REDIS_KEY_PREFIX={redis_prefix!r}: start workers" in line
    assert "None" not in result.stdout, result.stdout  # the bar said "0/None subtasks"
    assert "not taken yet" in result.stdout, result.stdout


def test_redis_that_does_not_answer_is_one_line(cli_env: dict[str, str]) -> None:
    _tenant("demo-tenant-1", {"1001": "Shoes"})
    result = run(
        ["sync", "--tenant", "demo-tenant-1", "--start-timeout", "1"],
        {**cli_env, "REDIS_URL": "redis://127.0.0.1:1/0"},
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: the broker (Redis) does not take the task: is REDIS_URL right")


def test_recommendations_keep_entity_ids_whole_at_80_columns(cli_env: dict[str, str]) -> None:
    """Before: Rich narrowed the entity and reason columns evenly and folded the id
    ("23850000001000 / 112") while the reason still had room to wrap."""
    from metasync.models import Recommendation

    _tenant("demo-tenant-2", {"1001": "Shoes"})
    for entity in ("23850000001000112", "23850000001000117"):
        Recommendation(
            tenant_id="demo-tenant-2",
            key=f"learning_limited:{entity}",
            account_id="1001",
            level="adset",
            entity_id=entity,
            rule="learning_limited",
            kind="learning_limited",
            action="flag",
            expected="learning limited: delivery is unstable until the ad set gets about 50 "
            "conversions a week",
        ).save()
    result = run(["recommendations", "list", "--tenant", "demo-tenant-2"], cli_env)
    assert result.returncode == 0, result.stderr
    for entity in ("23850000001000112", "23850000001000117"):
        assert entity in result.stdout, result.stdout  # on one line, not folded


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"daily_budget": 6000}, "is proposed: approve it first, then apply it"),
        (
            {},
            "is a flag (proposed): it writes nothing to Meta, so there is nothing to apply; "
            "act on it in Ads Manager, or reject it",
        ),
    ],
    ids=["proposed change", "flag"],
)
def test_an_apply_that_cannot_be_tried_exits_2_naming_the_fix(
    cli_env: dict[str, str], change: dict[str, int], expected: str
) -> None:
    """Before: "is proposed and only a flag: only an approved change ... is applied", which
    named no next step (and told an approved flag that only approved changes apply)."""
    from metasync.models import Recommendation

    _tenant("demo-tenant-2", {"1001": "Shoes"})
    found = Recommendation(
        tenant_id="demo-tenant-2",
        key="return_on_spend:23850000001000090",
        account_id="1001",
        level="adset",
        entity_id="23850000001000090",
        rule="return_on_spend",
        kind="return_on_spend",
        action="raise_budget" if change else "flag",
        change=change,
    ).save()
    result = run(["recommendations", "apply", "--tenant", "demo-tenant-2", str(found.pk)], cli_env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    [line] = result.stderr.strip().splitlines()
    assert line == f"recommendation {found.pk} {expected}", line
