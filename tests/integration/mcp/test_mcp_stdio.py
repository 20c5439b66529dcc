"""``metasync mcp`` as a subprocess, as a desktop assistant starts it: the key from the
environment, the tenant's data only, no Graph call; no key or a wrong one ends it at once."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest
from mcp.client.stdio import StdioServerParameters

from tests.integration.mcp.conftest import Tenants
from tests.support.mcp_client import calls, list_tools
from tests.support.sandbox import Sandbox

pytestmark = pytest.mark.slow  # starts a server process per connection


def _server(env: dict[str, str], key: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "metasync", "mcp"],
        env={**env, "METASYNC_API_KEY": key},
    )


def test_stdio_answers_the_keys_tenant_from_the_mirror(
    sync_env: dict[str, str], tenants: Tenants, world: Sandbox
) -> None:
    server = _server(sync_env, tenants.reader)
    assert "performance" in {t.name for t in list_tools(server)}
    theirs = world.user(1)["ad_account_ids"][0].removeprefix("act_")
    mine = [a.removeprefix("act_") for a in world.user(0)["ad_account_ids"]]
    day = max(r["date_start"] for r in world.truth()["insights"]["ad"])
    world.control("POST", "counters")
    listed, rows, other, refused = calls(
        server,
        None,
        [
            ("accounts", {}),
            ("performance", {"level": "account", "since": day, "until": day, "limit": 200}),
            ("performance", {"level": "ad", "since": day, "until": day, "account_id": theirs}),
            ("propose_pause", {"level": "ad", "entity_id": "1", "reason": "x"}),
        ],
    )
    assert sorted(a["account_id"] for a in listed.data["rows"]) == sorted(mine)
    expected = {
        r["account_id"]: Decimal(r["spend"])
        for r in world.truth()["insights"]["account"]
        if r["date_start"] == day and r["account_id"] in mine
    }
    assert {r["account_id"]: Decimal(r["spend"]) for r in rows.data["rows"]} == expected
    assert other.data["rows"] == [], "another tenant's account: nothing"
    assert refused.error and "propose scope" in refused.text
    assert world.graph_calls() == 0


def test_stdio_without_a_valid_key_in_the_environment_exits_with_why(
    sync_env: dict[str, str], tenants: Tenants
) -> None:
    for key, said in ((None, "METASYNC_API_KEY is required"), ("msk_a_b", "not a valid")):
        env = {**sync_env, **({"METASYNC_API_KEY": key} if key else {})}
        done = subprocess.run(
            [sys.executable, "-m", "metasync", "mcp"],
            env=env,
            input="",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2 and said in done.stderr, done.stderr
        assert done.stdout == "", "standard output is the protocol's alone"
