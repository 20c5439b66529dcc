"""The export into Snowflake and BigQuery through their emulators over the wire (fakesnow's
server and bqemulator, started by scripts/warehouse-emulators): the ground truth's daily rows
exactly, restatements merged by key without a duplicate, an export that dies between batches,
or between a batch's rows and its mark, resumed, and values a destination cannot hold cleaned
or set aside by name.

The sandbox world, the mirror and the settings are the module's: built and synced once
(module-scoped versions of the fixtures of tests/conftest.py and its export conftest), so each
test pays for its exports only. Tests read the first tenant's mirror and world and never change
them; the restatement test changes the second tenant's alone, and the values test writes a
tenant of its own. Each test exports into a database (Snowflake) or project (BigQuery) of its
own on the emulator.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.credentials import AnonymousCredentials
from google.oauth2 import service_account

from metasync import db
from metasync.config import get_settings, load_settings
from metasync.export import export_tenant
from metasync.export.bigquery import BigQueryWarehouse, bigquery_options
from metasync.export.credentials import CredentialsError
from metasync.export.destinations import schema_for
from metasync.export.snowflake import SnowflakeWarehouse
from metasync.models import AdAccount, Campaign, DailyInsight, ExportRun, MetaConnection
from metasync.sandbox.server import start_sandbox
from metasync.sync import SyncContext
from metasync.sync.connections import add_connection
from tests.integration.export.conftest import bigquery_admin, snowflake_admin, sync_tenants
from tests.support.inline import perf
from tests.support.sandbox import Sandbox
from tests.support.small_world import quick_reports_env, small_world

Query = Callable[[str, str], list[tuple[Any, ...]]]  # (table, columns) -> rows


class Crash(BaseException):
    """The export's process dying: nothing after it runs (no rollback), unlike an error."""


def snowflake_query(url: str, schema: str) -> Query:
    database = url.split("/")[3].split("?")[0]

    def query(table: str, columns: str) -> list[tuple[Any, ...]]:
        with snowflake_admin(database) as con:
            cursor = con.cursor()
            cursor.execute(f"SELECT {columns} FROM {schema.upper()}.{table.upper()}")
            return [tuple(row) for row in cursor.fetchall()]

    return query


def bigquery_query(url: str, schema: str) -> Query:
    project = url.split("/")[2]

    def query(table: str, columns: str) -> list[tuple[Any, ...]]:
        client = bigquery_admin(project)
        try:
            found = client.query(f"SELECT {columns} FROM `{project}.{schema}.{table}`")
            return [tuple(row.values()) for row in found.result(timeout=60)]
        finally:
            client.close()

    return query


# -- the module's world and mirror (read-only for the tests: see the module's docstring) ------
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Two users (tenants), two accounts each, eight ads an account, nine days."""
    service, info = start_sandbox(
        tmp_path_factory.mktemp("sandbox"), seed=21, size=small_world(users=2)
    )
    yield Sandbox(service.url, info)
    service.stop()


@pytest.fixture(scope="module")
def mongo(mongo_uri: str) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    db.connect(mongo_uri, database_name=name)
    db.ensure_indexes()
    yield name
    db.database().client.drop_database(name)
    db.disconnect()


@pytest.fixture(scope="module")
def redis_prefix() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="module")
def redis_client(redis_url: str, redis_prefix: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    keys = list(client.scan_iter(match=f"{redis_prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")
def sync_env(
    world: Sandbox, mongo_uri: str, redis_url: str, mongo: str, redis_prefix: str
) -> dict[str, str]:
    base = mongo_uri.rstrip("/").split("?")[0]
    return quick_reports_env(
        {
            "REDIS_URL": redis_url,
            "ENCRYPTION_KEY": secrets.token_hex(32),
            "META_GRAPH_URL": world.url,
            "META_APP_ID": world.info["app_id"],
            "META_APP_SECRET": world.info["app_secret"],
            "MONGODB_URI": f"{base}/{mongo}",
            "REDIS_KEY_PREFIX": redis_prefix,
            "META_RETRY_BASE_SECONDS": "0.1",
        }
    )


@pytest.fixture(scope="module")
def warehouse_secrets(
    tmp_path_factory: pytest.TempPathFactory, sync_env: dict[str, str]
) -> Iterator[Path]:
    """The module's ``WAREHOUSE_SECRETS_DIR``, in the settings the export reads."""
    folder = tmp_path_factory.mktemp("warehouse-secrets")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**sync_env, "WAREHOUSE_SECRETS_DIR": str(folder)}.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        yield folder
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def ctx(sync_env: dict[str, str], redis_client: redis.Redis) -> SyncContext:
    return SyncContext.from_settings(load_settings(sync_env))


@pytest.fixture(scope="module")
def connections(ctx: SyncContext, world: Sandbox) -> list[MetaConnection]:
    return [
        add_connection(ctx, f"tenant-{user['id']}", user["token"]) for user in world.info["users"]
    ]


@pytest.fixture(scope="module")
def synced_first(ctx: SyncContext, connections: list[MetaConnection]) -> list[MetaConnection]:
    """The first tenant synced (objects, daily rows, country and region reports), once."""
    return sync_tenants(ctx, connections[:1])


@pytest.fixture(params=["snowflake", "bigquery"])
def cloud(request: pytest.FixtureRequest) -> tuple[str, Callable[[str], Query], type[Any]]:
    """A cloud destination's URL, how to query a schema of it, and its warehouse class."""
    if request.param == "snowflake":
        url = str(request.getfixturevalue("snowflake_url"))
        return url, lambda schema: snowflake_query(url, schema), SnowflakeWarehouse
    if request.param == "bigquery":
        url = str(request.getfixturevalue("bigquery_url"))
        return url, lambda schema: bigquery_query(url, schema), BigQueryWarehouse
    raise AssertionError(request.param)


def daily_rows(query: Query) -> dict[tuple[str, str], tuple[Any, ...]]:
    rows = query("basic_ad", "ad_id, date, account_id, spend, impressions, clicks, reach")
    keys = [(str(r[0]), r[1].isoformat()) for r in rows]
    assert len(keys) == len(set(keys)), "a daily row twice"
    return {
        (str(r[0]), r[1].isoformat()): (int(r[2]), Decimal(r[3]), *map(int, r[4:])) for r in rows
    }


def truth_rows(world: Sandbox, connection: MetaConnection) -> dict[tuple[str, str], Any]:
    return {
        (r["ad_id"], r["date_start"]): (
            int(r["account_id"]),
            Decimal(r["spend"]),
            int(r["impressions"]),
            int(r["clicks"]),
            int(r["reach"]),
        )
        for r in world.truth()["insights"]["ad"]
        if r["account_id"] in connection.ad_account_ids
    }


def test_an_export_holds_the_truths_daily_rows_exactly(
    world: Sandbox, synced_first: list[MetaConnection], cloud: Any
) -> None:
    url, querier, _ = cloud
    connection = synced_first[0]
    result = export_tenant(connection.tenant_id, url, batch_rows=200)
    query = querier(schema_for(connection.tenant_id))
    assert daily_rows(query) == truth_rows(world, connection)
    assert result.rows["basic_ad"] == len(truth_rows(world, connection))
    # JSON columns hold JSON, and every object table its objects once per version
    feedback = [v for (v,) in query("ad_history", "ad_review_feedback") if v is not None]
    assert all(isinstance(json.loads(v) if isinstance(v, str) else v, dict) for v in feedback)
    names = query("campaign_history", "id, updated_time, name")
    assert names and len({(i, t) for i, t, _ in names}) == len(names)
    again = export_tenant(connection.tenant_id, url, batch_rows=200)
    assert sum(again.rows.values()) == 0, dict(again.rows)  # merged by key: nothing new


@pytest.mark.slow
def test_a_restatement_is_merged_without_a_duplicate(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    snowflake_url: str,
    bigquery_url: str,
) -> None:
    """The second tenant (the only one whose world changes) exported into both destinations,
    restated by Meta and read again, then exported again: one sync and one restatement for
    the two."""
    connection = sync_tenants(ctx, connections[1:])[0]
    tenant = connection.tenant_id
    queries = {
        snowflake_url: snowflake_query(snowflake_url, schema_for(tenant)),
        bigquery_url: bigquery_query(bigquery_url, schema_for(tenant)),
    }
    before = {}
    for url, query in queries.items():
        export_tenant(tenant, url)
        before[url] = daily_rows(query)
    newest = DailyInsight.objects(tenant_id=tenant, level="ad").order_by("-date").first()
    world.control(
        "POST",
        "mutate",
        {"id": newest.entity_id, "action": "performance", "fields": {"cpm": 40.0, "ctr": 0.03}},
    )
    run = perf(ctx, connection)  # the recent days read again: Meta restated them
    assert run.status == "succeeded", run.errors
    for url, query in queries.items():
        result = export_tenant(tenant, url)
        after = daily_rows(query)  # no key twice (checked inside)
        assert {k: v[1:4:2] + v[4:] for k, v in after.items()} == mirror_rows(tenant), url
        changed = {k for k in after if after[k] != before[url].get(k)}
        assert changed and result.rows["basic_ad"] == len(changed), url


def mirror_rows(tenant: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The mirror's daily ad rows: (spend, clicks, reach) by (ad, day)."""
    return {
        (d.entity_id, d.date): (Decimal(str(d.spend)), int(d.clicks), int(d.reach))
        for d in DailyInsight.objects(tenant_id=tenant, level="ad", breakdown_key="")
    }


def three_batches(tenant: str) -> int:
    """A batch size giving an account's daily rows in two to three batches: enough to die
    between batches, or after a batch's rows before its mark, with batches on either side.
    The export that dies does so in its first account's daily rows, before any report (their
    hundreds of rows would be dozens of batches); the resumed export reads in the default
    batches, as a mark is a position in the rows, not a count of batches."""
    accounts = DailyInsight.objects(tenant_id=tenant).distinct("account_id")
    most = max(int(DailyInsight.objects(tenant_id=tenant, account_id=a).count()) for a in accounts)
    return -(-most // 3)


def test_an_export_dying_between_batches_resumes(
    world: Sandbox,
    synced_first: list[MetaConnection],
    cloud: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, querier, warehouse = cloud
    connection = synced_first[0]
    batch = three_batches(connection.tenant_id)
    daily_commits = 0  # commits of batches holding daily rows
    load, commit = warehouse.load, warehouse.commit

    def loading(self: Any, table: Any, *args: Any, **kwargs: Any) -> int:
        self.daily = getattr(self, "daily", False) or table.name == "basic_ad"
        return int(load(self, table, *args, **kwargs))

    def dying(self: Any) -> None:
        nonlocal daily_commits
        if getattr(self, "daily", False):
            daily_commits += 1
            if daily_commits == 2:  # one daily batch committed, the next one's rows written
                raise Crash
        self.daily = False
        commit(self)

    monkeypatch.setattr(warehouse, "load", loading)
    monkeypatch.setattr(warehouse, "commit", dying)
    with pytest.raises(Crash):
        export_tenant(connection.tenant_id, url, batch_rows=batch)
    monkeypatch.setattr(warehouse, "load", load)
    monkeypatch.setattr(warehouse, "commit", commit)
    query = querier(schema_for(connection.tenant_id))
    part = daily_rows(query)
    assert part and len(part) < len(truth_rows(world, connection))  # it died mid-way
    resumed = export_tenant(connection.tenant_id, url)  # see three_batches
    assert daily_rows(query) == truth_rows(world, connection)
    assert (
        0
        < resumed.read["daily"]
        < sum(1 for _ in DailyInsight.objects(tenant_id=connection.tenant_id))
    )


def test_an_export_dying_between_a_batchs_rows_and_its_mark_resumes(
    world: Sandbox,
    synced_first: list[MetaConnection],
    cloud: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process dies after a batch's rows are merged and before its mark is written (where
    BigQuery, without a transaction, has them committed): the next export reads that batch
    again and merges it without a duplicate."""
    url, querier, warehouse = cloud
    connection = synced_first[0]
    batch = three_batches(connection.tenant_id)
    set_mark = warehouse.set_mark
    daily_marks = 0

    def dying(self: Any, account_id: str, source: str, *args: Any) -> None:
        nonlocal daily_marks
        if source == "daily":
            daily_marks += 1
            if daily_marks == 2:  # the second daily batch's rows merged, its mark not written
                raise Crash
        set_mark(self, account_id, source, *args)

    monkeypatch.setattr(warehouse, "set_mark", dying)
    with pytest.raises(Crash):
        export_tenant(connection.tenant_id, url, batch_rows=batch)
    monkeypatch.setattr(warehouse, "set_mark", set_mark)
    query = querier(schema_for(connection.tenant_id))
    part = daily_rows(query)  # no key twice (checked inside)
    assert part and len(part) < len(truth_rows(world, connection))
    resumed = export_tenant(connection.tenant_id, url)  # see three_batches
    assert daily_rows(query) == truth_rows(world, connection)
    marks = query("_metasync_export_marks", "account_id, source")
    assert len(marks) == len(set(marks)) and resumed.read["daily"] > 0


def test_text_and_ids_a_cloud_warehouse_cannot_hold_are_cleaned_or_named(
    warehouse_secrets: Path, cloud: Any
) -> None:
    """NUL is removed from text and counted; a row whose id is beyond 64 bits, or not a number,
    is named and the rest is exported. A tenant of its own, written straight into the mirror."""
    url, querier, _ = cloud
    tenant = f"values-{uuid.uuid4().hex[:8]}"
    AdAccount(
        tenant_id=tenant,
        meta_id="act_901",
        account_id="901",
        name="Values",
        currency="USD",
        timezone_name="UTC",
    ).save()
    huge = "184467440737095516160"  # ten times 2**64
    names = {"9011": "Spring\x00Sale\x00", "9012": "Summer", huge: "Huge", "c9": "Lettered"}
    for meta_id, name in names.items():
        Campaign(
            tenant_id=tenant,
            meta_id=meta_id,
            account_id="901",
            name=name,
            status="ACTIVE",
            updated_time=datetime(2026, 5, 1, tzinfo=UTC),
        ).save()
    result = export_tenant(tenant, url)  # set aside and named: not a failure
    named = "; ".join(result.rejected)
    for meta_id, why in ((huge, "does not fit bigint"), ("c9", "is not an integer")):
        assert f"campaign_history row id={meta_id}," in named
        assert f"id {meta_id} {why}" in named
    run = ExportRun.objects(tenant_id=tenant).get()
    assert (run.status, run.error, run.rejected_count) == ("succeeded", None, 2)
    query = querier(schema_for(tenant))
    found = sorted((int(i), n) for i, n in query("campaign_history", "id, name"))
    assert found == [(9011, "SpringSale"), (9012, "Summer")]
    assert [int(i) for (i,) in query("account_history", "id")] == [901]
    assert ExportRun.objects(tenant_id=tenant).get().cleaned == {"campaign_history": 2}


def test_bigquery_credentials_come_from_a_secret_file_or_the_environment(
    warehouse_secrets: Path,
) -> None:
    """A service account's key named by ``secret=``; an endpoint without one: anonymous (an
    emulator); neither: application default credentials (None: the client finds them). A file
    that is not a key is named, its content never shown."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account = {
        "type": "service_account",
        "project_id": "acme-analytics",
        "private_key_id": "1",
        "private_key": pem,
        "client_email": "metasync@acme-analytics.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    (warehouse_secrets / "acme-sa.json").write_text(json.dumps(account))
    options = bigquery_options("bigquery://acme-analytics/EU?secret=acme-sa.json")
    assert isinstance(options["credentials"], service_account.Credentials)
    assert options["credentials"].service_account_email == account["client_email"]
    assert (options["project"], options["location"], options["client_options"]) == (
        "acme-analytics",
        "EU",
        None,
    )
    emulator = bigquery_options("bigquery://p/US?endpoint=http://127.0.0.1:9050")
    assert isinstance(emulator["credentials"], AnonymousCredentials)
    assert emulator["client_options"].api_endpoint == "http://127.0.0.1:9050"
    assert bigquery_options("bigquery://p/US")["credentials"] is None
    (warehouse_secrets / "broken.json").write_text('{"private_key": "hunter2"')
    with pytest.raises(CredentialsError, match=r"broken\.json is not a Google credentials") as bad:
        bigquery_options("bigquery://p/US?secret=broken.json")
    assert "hunter2" not in str(bad.value)
    with pytest.raises(CredentialsError, match="no file"):
        bigquery_options("bigquery://p/US?secret=absent.json")
