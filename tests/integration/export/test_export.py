"""The export into real PostgreSQL and DuckDB: the ground truth in Fivetran's tables, every
object's latest version, no duplicate, restatements that change exactly the restated rows,
and tenants kept apart."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from metasync.export import export_tenant
from metasync.export.destinations import schema_for
from metasync.models import (
    Ad,
    AdAccount,
    AdCreative,
    AdSet,
    Campaign,
    DailyInsight,
    MetaConnection,
)
from metasync.sync import SyncContext, run_inline
from tests.support.inline import perf
from tests.support.sandbox import Sandbox

Query = Callable[[str], list[tuple[Any, ...]]]


def querier(url: str) -> Query:
    if url.startswith("duckdb"):
        path = url.removeprefix("duckdb:///")

        def duck(sql: str) -> list[tuple[Any, ...]]:
            with duckdb.connect("/" + path.lstrip("/"), read_only=True) as con:
                return con.execute(sql).fetchall()

        return duck

    def postgres(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url) as con:
            return con.execute(sql.encode()).fetchall()

    return postgres


@pytest.fixture(params=["postgresql", "duckdb"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/warehouse.duckdb"
    return str(request.getfixturevalue("postgres_url"))


def test_export_holds_the_ground_truth_once_per_tenant(
    ctx: SyncContext, world: Sandbox, synced: list[MetaConnection], destination: str
) -> None:
    active = next(a for a in world.truth()["ads"] if a["effective_status"] == "ACTIVE")
    world.control("POST", "mutate", {"id": active["id"], "action": "disapprove"})
    owner = next(c for c in synced if active["account_id"] in c.ad_account_ids)
    run_inline(ctx, str(owner.pk), full=True)  # Meta's review moves no updated_time
    for connection in synced:
        export_tenant(connection.tenant_id, destination, batch_rows=200)
    query = querier(destination)
    truth = world.truth()
    for connection in synced:
        schema = schema_for(connection.tenant_id)
        expected = {
            (int(r["account_id"]), r["date_start"], r["ad_id"]): r
            for r in truth["insights"]["ad"]
            if r["account_id"] in connection.ad_account_ids
        }
        stored = {
            (row[0], row[1].isoformat(), row[2]): row[3:]
            for row in query(
                f"SELECT account_id, date, ad_id, spend, impressions, inline_link_clicks, "
                f"clicks, reach, ad_name FROM {schema}.basic_ad"
            )
        }
        assert sorted(stored) == sorted(expected)  # every ad-day, none more
        for key, raw in expected.items():
            spend, impressions, link_clicks, clicks, reach, name = stored[key]
            assert (Decimal(spend), impressions, clicks, reach) == (
                Decimal(raw["spend"]),
                int(raw["impressions"]),
                int(raw["clicks"]),
                int(raw["reach"]),
            ), key
            assert link_clicks == int(raw["inline_link_clicks"]), key
            assert name == next(a["name"] for a in truth["ads"] if a["id"] == raw["ad_id"])
        # every object's latest version equals the mirror's object
        for table, model, order in (
            ("account_history", AdAccount, "_fivetran_synced"),
            ("campaign_history", Campaign, "updated_time"),
            ("ad_set_history", AdSet, "updated_time"),
            ("ad_history", Ad, "updated_time"),
            ("creative_history", AdCreative, "_fivetran_synced"),
        ):
            latest = query(
                f"SELECT id, name FROM (SELECT *, row_number() OVER (PARTITION BY id "
                f"ORDER BY {order} DESC) AS n FROM {schema}.{table}) v WHERE n = 1"
            )
            mirror = {
                int(o.meta_id.removeprefix("act_")): o.name
                for o in model.objects(tenant_id=connection.tenant_id)
            }
            assert dict(latest) == mirror, table
        # the v23-v25 fields: why Meta disapproved an ad, and the Advantage+ states
        disapproved = {
            int(a["id"]): a["ad_review_feedback"]
            for a in truth["ads"]
            if a["account_id"] in connection.ad_account_ids and a.get("ad_review_feedback")
        }
        reasons = {
            ad_id: json.loads(feedback) if isinstance(feedback, str) else feedback
            for ad_id, feedback in query(
                f"SELECT id, ad_review_feedback FROM {schema}.ad_history "
                "WHERE ad_review_feedback IS NOT NULL"
            )
        }
        assert reasons == disapproved
        assert (active["id"] in {str(i) for i in reasons}) is (connection is owner)
        states = {s for (s,) in query(f"SELECT advantage_state FROM {schema}.campaign_history")}
        assert states and None not in states
        for table, key in (
            ("campaign_history", "id, updated_time"),
            ("basic_ad_actions", "ad_id, date, action_type"),
            ("demographics_country", "account_id, date, country"),
        ):
            total, distinct = query(
                f"SELECT count(*), count(DISTINCT ({key})) FROM {schema}.{table}"
            )[0]
            assert total == distinct > 0, table
        other = next(c for c in synced if c is not connection)
        other_ads = {str(a["id"]) for a in truth["ads"] if a["account_id"] in other.ad_account_ids}
        mine = {row[0] for row in query(f"SELECT DISTINCT ad_id FROM {schema}.basic_ad")}
        assert mine and not (mine & other_ads)  # a tenant's schema holds its accounts only
    # the agency case: both tenants in one database, each in a schema of its own, read in one
    # query as dbt_facebook_ads reads them with facebook_ads_union_schemas (a source_relation
    # per schema): each source's spend per ad and day is its own tenant's truth
    schemas = {schema_for(c.tenant_id): c for c in synced}
    assert len(schemas) == len(synced) == 2, "a schema per tenant"
    union = " UNION ALL ".join(
        f"SELECT '{schema}' AS source_relation, ad_id, date, spend FROM {schema}.basic_ad"
        for schema in schemas
    )
    by_source: dict[str, dict[tuple[str, str], Decimal]] = {schema: {} for schema in schemas}
    for source, ad_id, day, spend in query(union):
        by_source[source][(str(ad_id), day.isoformat())] = Decimal(spend)
    for schema, connection in schemas.items():
        assert by_source[schema] == {
            (str(r["ad_id"]), r["date_start"]): Decimal(r["spend"])
            for r in truth["insights"]["ad"]
            if r["account_id"] in connection.ad_account_ids
        }, schema


def test_a_second_export_changes_nothing_and_demographics_add_up(
    synced_first: list[MetaConnection], destination: str
) -> None:
    tenant = synced_first[0].tenant_id
    first = export_tenant(tenant, destination)
    again = export_tenant(tenant, destination)
    assert first.rows["basic_ad"] > 0 and first.rows["demographics_country"] > 0
    assert sum(again.rows.values()) == 0, dict(again.rows)
    assert again.read["daily"] == 0  # nothing was re-read: the marks held
    query = querier(destination)
    schema = schema_for(tenant)
    by_country = query(
        f"SELECT account_id, date, sum(impressions), sum(spend) FROM "
        f"{schema}.demographics_country GROUP BY 1, 2 ORDER BY 1, 2"
    )
    by_ad = query(
        f"SELECT CAST(account_id AS text), date, sum(impressions), sum(spend) FROM "
        f"{schema}.basic_ad GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert [(a, d, int(i), Decimal(s)) for a, d, i, s in by_country] == [
        (a, d, int(i), Decimal(s)) for a, d, i, s in by_ad
    ]
    windows = query(
        f"SELECT count(*) FROM {schema}.demographics_country_actions WHERE _7_d_click IS NOT NULL"
    )[0][0]
    assert windows > 0  # the country report reads every window


def test_a_lookback_sync_changes_exactly_the_restated_rows(
    ctx: SyncContext, world: Sandbox, synced_first: list[MetaConnection], postgres_url: str
) -> None:
    connection = synced_first[0]
    tenant = connection.tenant_id
    export_tenant(tenant, postgres_url)
    query = querier(postgres_url)
    schema = schema_for(tenant)

    def warehouse() -> dict[tuple[str, str], tuple[Any, ...]]:
        rows = query(
            f"SELECT ad_id, date, spend, impressions, inline_link_clicks, reach, "
            f"_fivetran_synced FROM {schema}.basic_ad"
        )
        return {(r[0], r[1].isoformat()): r[2:] for r in rows}

    def mirror() -> dict[tuple[str, str], tuple[Any, ...]]:
        docs = DailyInsight.objects(tenant_id=tenant, level="ad", breakdown_key="")
        return {
            (d.entity_id, d.date): (d.spend, d.impressions, d.inline_link_clicks, d.reach)
            for d in docs
        }

    before, mirror_before = warehouse(), mirror()
    newest = DailyInsight.objects(tenant_id=tenant, level="ad").order_by("-date").first()
    world.control("POST", "mutate", {"id": newest.entity_id, "action": "performance",
                                     "fields": {"cpm": 40.0, "ctr": 0.03}})  # fmt: skip
    run = perf(ctx, connection)  # a scheduled run: the recent days again
    assert run.status == "succeeded", run.errors
    restated = {k for k, v in mirror().items() if mirror_before.get(k) != v}
    assert restated  # the read changed some ad-days (and left the older ones)
    result = export_tenant(tenant, postgres_url)
    after = warehouse()
    changed = {k for k in after if after[k][:4] != before.get(k, (None,) * 5)[:4]}
    assert changed == restated
    assert result.rows["basic_ad"] == len(restated)
    untouched = set(after) - restated
    assert all(after[k][4] == before[k][4] for k in untouched)  # their sync stamps stayed


def test_objects_keep_every_version_and_deleted_ones_their_last(
    ctx: SyncContext, world: Sandbox, synced_first: list[MetaConnection], postgres_url: str
) -> None:
    connection = synced_first[0]
    tenant = connection.tenant_id
    export_tenant(tenant, postgres_url)
    ads = list(Ad.objects(tenant_id=tenant).order_by("meta_id"))
    renamed, deleted = ads[0], ads[1]
    world.control("POST", "mutate", {"id": renamed.meta_id, "action": "update",
                                     "fields": {"name": "Renamed ad"}})  # fmt: skip
    world.control("POST", "mutate", {"id": deleted.meta_id, "action": "unlist"})
    run_inline(ctx, str(connection.pk), full=True)
    export_tenant(tenant, postgres_url)
    query = querier(postgres_url)
    schema = schema_for(tenant)
    versions = query(
        f"SELECT name FROM {schema}.ad_history WHERE id = {int(renamed.meta_id)} "
        "ORDER BY updated_time"
    )
    assert [v[0] for v in versions] == [renamed.name, "Renamed ad"]
    last = query(
        f"SELECT status, _metasync_deleted_at FROM {schema}.ad_history "
        f"WHERE id = {int(deleted.meta_id)} ORDER BY updated_time DESC LIMIT 1"
    )[0]
    assert last[0] == "DELETED" and last[1] is not None
    accounts = query(f"SELECT id, count(*) FROM {schema}.account_history GROUP BY id")
    assert {count for _, count in accounts} == {1}  # unchanged accounts: one version each
