"""Writes Meta refuses for good, against the sandbox as a real HTTP server: a take-back refused
for good stops after one POST (however many recovery passes follow), says per entity what was
not restored, raises an alert and leaves the audit log equal to Meta; a refused apply exits
non-zero from the CLI and answers 403 from the API naming Meta's reason, stays ``failed``, and
is applied once the permission is granted, without a new evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from metasync.alerts import check_alerts, current_problems
from metasync.api.keys import create_key
from metasync.config import load_settings
from metasync.graph import MetaAPIError
from metasync.models import AlertState, AuditEntry, MetaConnection, Recommendation, utcnow
from metasync.optimize.apply import apply_recommendation
from metasync.optimize.claims import stale_applies
from metasync.optimize.settings import RecommendationError
from metasync.optimize.undo import undo_recommendation
from metasync.sync import SyncContext
from metasync.webhooks.app import create_app
from tests.integration.test_cli import run
from tests.support.optimizer_writes import (
    approved_pause,
    approved_reallocation,
    audit_matches_meta,
    live_adsets,
)
from tests.support.sandbox import Sandbox

FOR_GOOD = 100  # refusals planned: more than any number of passes would use


def _posts(world: Sandbox) -> int:
    return int(world.control("GET", "counters")["by_path"].get("POST /{id}", 0))


def _refused_writes(world: Sandbox, entity_id: str) -> int:
    """How many writes of ``entity_id`` the sandbox refused (its planned faults used up)."""
    planned = world.control("GET", "faults")["write_faults"]
    return sum(FOR_GOOD - int(f["times"]) for f in planned if f["id"] == entity_id)


def _recovery_pass(ctx: SyncContext) -> int:
    """What the recovery (``metasync.recover_runs``) does with approved writes: take over each
    one it finds and apply it as its task does; returns how many it found."""
    found = stale_applies(ctx.settings.OPTIMIZER_LEASE_SECONDS)
    for rec in found:
        try:
            apply_recommendation(ctx, rec.tenant_id, str(rec.pk), by="optimizer")
        except (RecommendationError, MetaAPIError):
            continue  # the task logs it, or retries later
    return len(found)


def _alerts(ctx: SyncContext) -> dict[str, str]:
    check_alerts(ctx.settings, ctx.redis, ctx.keys)  # no channel: the states still track it
    return current_problems(ctx.redis, ctx.keys, utcnow())


def _adset_budget(world: Sandbox, adset: dict[str, Any]) -> int:
    return int(world.get(adset["id"], fields="daily_budget").json()["daily_budget"])


def test_a_take_back_refused_for_good_stops_is_reported_and_alerted(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """Before: the giver's take-back stayed ``intended``, the recommendation ``approved``, and
    every recovery pass POSTed it again (the total stayed short)."""
    connection = connections[0]
    giver, receiver = live_adsets(world, connection.ad_account_ids[0])
    given, received = int(giver["daily_budget"]), int(receiver["daily_budget"])
    world.control(
        "POST",
        "faults",
        {
            "write_faults": [
                {
                    "id": receiver["id"],
                    "kind": "invalid",
                },  # the raise is refused: take the cut back
                {"id": giver["id"], "kind": "permission", "skip": 1, "times": FOR_GOOD},
            ]
        },
    )
    rec, moved = approved_reallocation(connection, giver, receiver)
    world.control("POST", "counters")
    ended = apply_recommendation(ctx, connection.tenant_id, rec, by="op")
    assert ended.state == "restore_refused", ended.error
    assert _posts(world) == 3, "the cut, the refused raise, the refused take-back"
    for _ in range(3):
        assert _recovery_pass(ctx) == 0, "nothing left for the recovery to send again"
    assert _posts(world) == 3 and _refused_writes(world, giver["id"]) == 1
    assert _adset_budget(world, giver) == given - moved, "Meta still holds the cut"
    # the recommendation says what was and was not restored, per entity, as Meta holds it
    report = {e["entity_id"]: e for e in Recommendation.objects.get(pk=rec).restore}
    assert report[giver["id"]]["not_restored"] == {"daily_budget": str(given)}
    assert report[giver["id"]]["meta"] == {"daily_budget": str(given - moved)}
    assert "(#200) Requires ads_management" in report[giver["id"]]["error"]
    assert report[receiver["id"]]["not_restored"] == {}
    assert report[receiver["id"]]["meta"] == {"daily_budget": str(received)}
    # the intents are closed with Meta's answer; the audit log equals Meta
    entries = {(e.action, e.step, e.state) for e in AuditEntry.objects(recommendation_id=rec)}
    assert entries == {
        ("apply", 0, "written"),
        ("apply", 1, "refused"),
        ("compensate", 0, "refused"),
    }
    refused = AuditEntry.objects.get(recommendation_id=rec, action="compensate")
    assert "(#200)" in refused.error
    assert audit_matches_meta(world, rec) == []
    # the operator is alerted, naming what was not restored
    line = _alerts(ctx)[f"restore-refused:{rec}"]
    assert f"adset {giver['id']} daily_budget {given} (Meta holds {given - moved})" in line
    assert AlertState.objects(key=f"restore-refused:{rec}").count() == 1
    # the permission granted: undo takes the cut back, and the alert clears
    world.control("POST", "faults", {"write_faults": []})
    restored = undo_recommendation(ctx, connection.tenant_id, rec, by="op")
    assert restored.state == "compensated", restored.error
    assert [_adset_budget(world, giver), _adset_budget(world, receiver)] == [given, received]
    assert audit_matches_meta(world, rec) == []
    assert f"restore-refused:{rec}" not in _alerts(ctx)


def test_an_undo_refused_for_good_is_reported_not_left_open(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    """Before: an undo Meta refused raised ``undo stopped`` and left the recommendation
    ``applied`` with nothing saying what stayed written, and no alert."""
    connection = connections[0]
    ad = next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] == connection.ad_account_ids[0] and a["effective_status"] == "ACTIVE"
    )
    rec = approved_pause(connection, ad["id"])
    assert apply_recommendation(ctx, connection.tenant_id, rec, by="op").state == "applied"
    world.control(
        "POST",
        "faults",
        {"write_faults": [{"id": ad["id"], "kind": "permission", "times": FOR_GOOD}]},
    )
    ended = undo_recommendation(ctx, connection.tenant_id, rec, by="op")
    assert ended.state == "restore_refused", ended.error
    assert _refused_writes(world, ad["id"]) == 1
    [entity] = ended.restore
    assert (entity["before"], entity["meta"], entity["not_restored"]) == (
        {"status": "ACTIVE"},
        {"status": "PAUSED"},
        {"status": "ACTIVE"},
    )
    assert audit_matches_meta(world, rec) == []
    assert (
        f"ad {ad['id']} status ACTIVE (Meta holds PAUSED)" in _alerts(ctx)[f"restore-refused:{rec}"]
    )
    assert _recovery_pass(ctx) == 0 and _refused_writes(world, ad["id"]) == 1


@pytest.fixture
def api(sync_env: dict[str, str], redis_client: redis.Redis) -> Iterator[TestClient]:
    settings = load_settings({**sync_env, "META_APP_VERIFY_TOKEN": "verify"})
    app = create_app(settings, lambda c, k: None, redis_client, connect_db=False)
    with TestClient(app) as client:
        yield client


def test_a_refused_apply_fails_loudly_and_is_applied_once_the_permission_is_granted(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    api: TestClient,
) -> None:
    """Before: the CLI printed ``expired`` and exited 0; the API had no way to apply; the
    recommendation could not be applied again without a new evaluation."""
    connection = connections[0]
    token = world.info["users"][0]["token"]
    assert "ads_management" in connection.token_scopes
    # the person's grant changed at Meta since the connection last read it
    world.control("POST", "tokens/scopes", {"token": token, "scopes": ["ads_read"]})
    ad = next(
        a
        for a in world.truth()["ads"]
        if a["account_id"] == connection.ad_account_ids[0] and a["effective_status"] == "ACTIVE"
    )
    rec = approved_pause(connection, ad["id"])
    cli = run(["recommendations", "apply", "--tenant", connection.tenant_id, rec], sync_env)
    assert cli.returncode == 1, (cli.stdout, cli.stderr)
    [line] = cli.stderr.strip().splitlines()
    assert line.startswith("apply refused by Meta: (#200) Requires ads_management permission")
    assert f"metasync recommendations apply --tenant {connection.tenant_id} {rec} again" in line
    assert line.count("grant") == 1, f"the fix is said once: {line}"
    failed = Recommendation.objects.get(pk=rec)
    assert failed.state == "failed" and failed.failure["code"] == 200
    _, key = create_key(connection.tenant_id, scopes=["optimize"])
    headers = {"Authorization": f"Bearer {key}"}
    answer = api.post(f"/api/v1/recommendations/{rec}/apply", headers=headers)
    assert answer.status_code == 403, answer.text
    assert "(#200) Requires ads_management" in answer.json()["detail"]
    assert Recommendation.objects.get(pk=rec).state == "failed", "not expired, not approved"
    assert world.get(ad["id"], fields="status").json()["status"] == "ACTIVE"
    # granted again: the same recommendation is applied, no evaluation in between
    granted = ["ads_read", "ads_management"]
    world.control("POST", "tokens/scopes", {"token": token, "scopes": granted})
    applied = api.post(f"/api/v1/recommendations/{rec}/apply", headers=headers)
    assert applied.status_code == 200, applied.text
    assert applied.json()["state"] == "applied" and applied.json()["failure"] is None
    assert world.get(ad["id"], fields="status").json()["status"] == "PAUSED"
    assert Recommendation.objects.count() == 1
    assert audit_matches_meta(world, rec) == []
    again = run(["recommendations", "apply", "--tenant", connection.tenant_id, rec], sync_env)
    assert again.returncode == 0 and f"recommendation {rec}: applied" in again.stdout
