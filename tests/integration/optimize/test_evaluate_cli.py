"""``metasync rules evaluate`` tells what the evaluation lacked (its notes) and, in apply mode,
what it applied and why not the rest; ``recommendations list`` shows budgets in major units
with their currency."""

from __future__ import annotations

from typing import Any

import pytest

from metasync.models import MetaConnection, Recommendation
from metasync.optimize.settings import set_mode, set_rules
from metasync.sync import SyncContext
from tests.integration.test_cli import run, with_database
from tests.support.optimizer_mirror import RULES, build_mirror
from tests.support.sandbox import Sandbox

WITH_PACING = RULES + "  - kind: spend_pacing\n    before_hour: 18\n"


@pytest.fixture
def cli_env(env: dict[str, str], mongo_uri: str, mongo: str) -> dict[str, str]:
    return {**env, "MONGODB_URI": with_database(mongo_uri, mongo), "COLUMNS": "120"}


def test_evaluate_prints_its_notes_and_says_recommend_mode_applies_nothing(
    cli_env: dict[str, str],
) -> None:
    """Before: the note that no hourly report rows exist was filled and never printed."""
    build_mirror("t1")
    set_rules("t1", WITH_PACING, by="test")
    result = run(["rules", "evaluate", "--tenant", "t1"], cli_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        "note: spend_pacing: no hourly report rows to read; enable one (metasync reports "
        "enable hourly) and let a performance sync read it"
    ) in lines
    assert (
        "mode recommend: nothing applied; approve with metasync recommendations approve "
        "--tenant t1 ID"
    ) in lines
    Recommendation(
        tenant_id="t1",
        key="raise",
        account_id="1",
        level="adset",
        entity_id="s-win",
        rule="return_on_spend",
        kind="return_on_spend",
        action="raise_budget",
        change={"daily_budget": 12000},
    ).save()
    listed = run(["recommendations", "list", "--tenant", "t1"], cli_env)
    raise_line = next(line for line in listed.stdout.splitlines() if "s-win" in line)
    assert "daily_budget 120.00 USD" in raise_line, listed.stdout  # 12000 minor units
    assert "12000" not in listed.stdout


def test_evaluate_in_apply_mode_says_why_nothing_was_written_and_exits_1(
    cli_env: dict[str, str],
) -> None:
    """Before: in apply mode the CLI applied nothing and exited 0 without a word. Here no
    connection can write to the mirror's account: each write is refused, naming why."""
    build_mirror("t1")
    set_rules("t1", RULES, by="test")
    set_mode("t1", "apply", by="test")
    result = run(["rules", "evaluate", "--tenant", "t1"], cli_env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    changes = Recommendation.objects(tenant_id="t1", change__ne={})
    for found in changes:
        assert found.decided_by == "optimizer"
        assert any(
            line.startswith(f"not applied: {found.pk} {found.rule}: ")
            for line in result.stderr.splitlines()
        ), result.stderr
    flags = Recommendation.objects(tenant_id="t1", change={})
    for flag in flags:
        assert (
            f"not applied: {flag.pk} {flag.rule} {flag.level} {flag.entity_id}: a flag, "
            "nothing to write"
        ) in result.stdout
    assert (
        f"apply mode: 0 applied, {changes.count()} failed, {flags.count()} not for the "
        "optimizer to apply"
    ) in result.stdout
    assert changes.count() and flags.count()


def test_apply_mode_writes_to_meta_and_names_what_it_applied(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from metasync.commands.optimize import apply_proposals

    connection = connections[0]
    tenant, account = connection.tenant_id, connection.ad_account_ids[0]
    ad = next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] == account and a["effective_status"] == "ACTIVE"
    )
    set_mode(tenant, "apply", by="test")

    def proposed(key: str, **fields: Any) -> str:
        saved = Recommendation(
            tenant_id=tenant,
            key=key,
            account_id=account,
            level="ad",
            entity_id=ad["id"],
            rule="cost",
            kind="cost_per_conversion",
            state="proposed",
            **fields,
        ).save()
        return str(saved.pk)

    pause = proposed("pause", action="pause", change={"status": "PAUSED"})
    flag = proposed("flag", action="flag", change={})
    assert apply_proposals(ctx, tenant, [pause, flag])
    out = capsys.readouterr().out
    assert f"recommendation {pause}: applied" in out.splitlines()
    assert f"not applied: {flag} cost ad {ad['id']}: a flag, nothing to write" in out
    assert "apply mode: 1 applied, 0 failed, 1 not for the optimizer to apply" in out
    assert world.get(ad["id"], fields="status").json()["status"] == "PAUSED"
