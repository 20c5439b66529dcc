"""Exactly once whatever the order pages commit in and whatever the writers' clocks say: the
interleavings that lost rows when the export's marks were the writers' time stamps, forced
with real threads against the real MongoDB-wire server and a real PostgreSQL, and a property
test over random interleavings of reserve, write, release and export steps."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import psycopg
import pytest
from bson import Decimal128
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pymongo.collection import Collection
from pymongo.errors import AutoReconnect, BulkWriteError, NetworkTimeout

from metasync.config import Settings
from metasync.export import export_tenant
from metasync.export.destinations import schema_for
from metasync.models import (
    AdAccount,
    DailyInsight,
    MetaConnection,
    ReportRow,
    WriteSequence,
    breakdown_key,
    numbering,
    upsert_page,
    utcnow,
)
from metasync.sync import SyncContext
from metasync.sync.write import insight_rows
from metasync.sync.write.insight_rows import write_rows

TENANT = "acme"
ACCOUNT = "101"
Key = tuple[str, str, str]  # (account, ad, day)


@pytest.fixture
def writer(settings: Settings, mongo: str) -> SyncContext:
    """What a sync worker writes with, and the tenant's ad account in the mirror."""
    upsert_page(
        AdAccount,
        [
            {
                "tenant_id": TENANT,
                "meta_id": f"act_{ACCOUNT}",
                "account_id": ACCOUNT,
                "name": "Acme",
                "currency": "EUR",
            }
        ],
    )
    return SyncContext.from_settings(settings)


def items(ads: list[str], day: str, spend: str) -> list[dict[str, Any]]:
    """A page of Meta's ad-level daily rows."""
    return [
        {
            "ad_id": ad,
            "adset_id": "7",
            "campaign_id": "5",
            "date_start": day,
            "date_stop": day,
            "spend": spend,
            "impressions": "100",
            "clicks": "3",
        }
        for ad in ads
    ]


def write(ctx: SyncContext, page: list[dict[str, Any]], account: str = ACCOUNT) -> int:
    return write_rows(ctx, MetaConnection(tenant_id=TENANT), None, account, "ad", page)


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as con:
        return con.execute(sql.encode()).fetchall()


def warehouse(url: str, tenant: str = TENANT) -> dict[Key, Decimal]:
    """The warehouse's daily rows: (account, ad, day) -> spend."""
    table = f"{schema_for(tenant)}.metasync_daily_insights"
    rows = query(url, f"SELECT account_id, entity_id, date, spend FROM {table}")
    return {(r[0], r[1], r[2].isoformat()): Decimal(r[3]) for r in rows}


def mirror(tenant: str = TENANT) -> dict[Key, Decimal]:
    return {
        (d.account_id, d.entity_id, d.date): d.spend for d in DailyInsight.objects(tenant_id=tenant)
    }


def report_rows(url: str, tenant: str) -> dict[tuple[str, ...], Decimal | None]:
    """The warehouse's report rows: (report, account, ad, span, breakdown) -> spend."""
    table = f"{schema_for(tenant)}.metasync_report_rows"
    columns = "report, account_id, entity_id, span, breakdown_key, spend"
    rows = query(url, f"SELECT {columns} FROM {table}")
    return {r[:5]: None if r[5] is None else Decimal(r[5]) for r in rows}


def mirrored_reports(tenant: str) -> dict[tuple[str, ...], Decimal | None]:
    return {
        (r.report, r.account_id, r.entity_id, r.span, r.breakdown_key): (r.spend)
        for r in ReportRow.objects(tenant_id=tenant)
    }


class Gate:
    """Holds chosen threads inside their bulk write: ``inside`` is set when one arrives, and it
    goes on when ``go`` is set (the page is reserved and stamped, but not committed)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, held: set[str]) -> None:
        self.held, self.inside, self.go = held, threading.Event(), threading.Event()
        original = Collection.bulk_write

        def bulk_write(collection: Collection[Any], *args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name in self.held:
                self.inside.set()
                assert self.go.wait(30)
            return original(collection, *args, **kwargs)

        monkeypatch.setattr(Collection, "bulk_write", bulk_write)


class Worker(threading.Thread):
    """A thread whose failure is raised again by :meth:`finish`."""

    def __init__(self, name: str, action: Callable[[], object]) -> None:
        super().__init__(name=name)
        self.action: Callable[[], object] = action
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.action()
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            self.error = exc

    def finish(self, timeout: float = 240) -> None:
        self.join(timeout)
        assert not self.is_alive(), f"{self.name} did not finish"
        if self.error is not None:
            raise self.error


def in_thread(name: str, action: Callable[[], object]) -> Worker:
    worker = Worker(name, action)
    worker.start()
    return worker


def test_a_page_that_commits_after_a_later_one_was_exported_is_exported(
    writer: SyncContext, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(writer, items(["1"], "2026-11-01", "1.00"))
    export_tenant(TENANT, postgres_url)
    gate = Gate(monkeypatch, {"P"})
    p = in_thread("P", lambda: write(writer, items(["2", "3"], "2026-11-02", "2.00")))
    assert gate.inside.wait(30)  # P is stamped and on its way, not committed
    time.sleep(0.01)  # Q is stamped strictly later on any clock
    write(writer, items(["4"], "2026-11-02", "4.00"))  # Q commits
    export_tenant(TENANT, postgres_url)
    held = ("101", "4", "2026-11-02") not in warehouse(postgres_url)  # behind P's number
    gate.go.set()
    p.finish()
    export_tenant(TENANT, postgres_url)
    assert warehouse(postgres_url) == mirror()
    assert ("101", "2", "2026-11-02") in warehouse(postgres_url)
    assert held  # Q waited for P rather than passing it
    assert export_tenant(TENANT, postgres_url).read["daily"] == 0  # and none read twice


@pytest.mark.parametrize("skew", [timedelta(minutes=-2), timedelta(minutes=3)])
def test_a_writer_whose_clock_is_minutes_off_is_exported(
    writer: SyncContext, postgres_url: str, monkeypatch: pytest.MonkeyPatch, skew: timedelta
) -> None:
    write(writer, items(["1"], "2026-11-01", "1.00"))
    export_tenant(TENANT, postgres_url)
    monkeypatch.setattr(insight_rows, "utcnow", lambda: utcnow() + skew)  # this worker's clock
    write(writer, items(["2"], "2026-11-02", "2.00"))
    export_tenant(TENANT, postgres_url)
    monkeypatch.setattr(insight_rows, "utcnow", utcnow)  # a worker with the right time
    write(writer, items(["3"], "2026-11-03", "3.00"))
    write(writer, items(["1"], "2026-11-01", "1.50"))  # a restatement of an exported day
    export_tenant(TENANT, postgres_url)
    assert warehouse(postgres_url) == mirror()
    assert len(mirror()) == 3


def test_a_dead_writers_number_expires_by_the_servers_clock(
    writer: SyncContext, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(numbering, "LEASE_SECONDS", 3)
    dead = numbering.reserve(TENANT, ACCOUNT)  # a worker reserved, then its machine was lost
    monkeypatch.setattr(insight_rows, "utcnow", lambda: utcnow() + timedelta(hours=1))
    write(writer, items(["1"], "2026-11-01", "1.00"))  # its clock cannot make it expire sooner
    export_tenant(TENANT, postgres_url)
    assert warehouse(postgres_url) == {}  # held behind the dead number while it may be alive
    time.sleep(3.2)  # by the server's clock, past the lease
    export_tenant(TENANT, postgres_url)
    assert warehouse(postgres_url) == mirror() != {}
    write(writer, items(["2"], "2026-11-02", "2.00"))
    entries = WriteSequence.objects.get(tenant_id=TENANT, account_id=ACCOUNT).inflight
    assert dead not in {e["seq"] for e in entries}  # the next reservation dropped it
    export_tenant(TENANT, postgres_url)
    assert warehouse(postgres_url) == mirror()


def test_a_page_slower_than_the_lease_is_written_again_under_a_new_number(
    writer: SyncContext, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(numbering, "LEASE_SECONDS", 1)
    gate = Gate(monkeypatch, {"slow"})
    slow = in_thread("slow", lambda: write(writer, items(["1"], "2026-11-01", "1.00")))
    assert gate.inside.wait(30)
    time.sleep(1.2)  # its number is dead to the export now
    gate.held.clear()
    write(writer, items(["2"], "2026-11-02", "2.00"))
    export_tenant(TENANT, postgres_url)  # passes the slow page's number
    gate.go.set()
    slow.finish()  # commits behind the mark, sees it took the lease, writes again
    export_tenant(TENANT, postgres_url)
    assert warehouse(postgres_url) == mirror()
    assert set(mirror()) == {("101", "1", "2026-11-01"), ("101", "2", "2026-11-02")}


def test_rows_of_an_earlier_metasync_and_its_time_marks_are_exported_once(
    writer: SyncContext, postgres_url: str
) -> None:
    write(writer, items(["1", "2"], "2026-11-01", "1.00"))
    export_tenant(TENANT, postgres_url)
    collection = DailyInsight._get_collection()
    # an earlier metasync: rows without numbers, a mark by the writers' clocks that a page
    # committed late lies behind
    collection.update_many({}, {"$unset": {"seq": ""}})
    with psycopg.connect(postgres_url) as con:
        con.execute(
            f"UPDATE {schema_for(TENANT)}._metasync_export_marks SET mark_seq = NULL, "
            "mark_at = now() + interval '1 hour'".encode()
        )
    collection.update_one({"entity_id": "2"}, {"$set": {"spend": Decimal128("9.00")}})
    result = export_tenant(TENANT, postgres_url)
    assert result.numbered["daily"] == 2
    assert warehouse(postgres_url) == mirror()
    assert warehouse(postgres_url)[("101", "2", "2026-11-01")] == Decimal("9.00")
    assert export_tenant(TENANT, postgres_url).read["daily"] == 0


def test_rows_an_upgrade_moves_to_another_report_are_exported_under_it(
    writer: SyncContext, postgres_url: str
) -> None:
    from metasync.upgrades import split_placement_report

    breakdowns = {"publisher_platform": "facebook", "impression_device": "ipad"}
    row = {
        "tenant_id": TENANT,
        "account_id": ACCOUNT,
        "report": "placement",
        "level": "ad",
        "entity_id": "9",
        "span": "2026-11-01",
        "breakdowns": breakdowns,
        "breakdown_key": breakdown_key(breakdowns),
        "attribution_key": "default",
        "spend": Decimal("3.00"),
    }
    upsert_page(ReportRow, [row])
    export_tenant(TENANT, postgres_url)
    assert split_placement_report() == 1
    export_tenant(TENANT, postgres_url)
    exported = {key[0] for key in report_rows(postgres_url, TENANT)}
    assert "placement_device" in exported


def test_the_fetched_at_indexes_of_an_earlier_metasync_are_dropped(mongo: str) -> None:
    from metasync.models import AppliedUpgrade
    from metasync.upgrades import apply_upgrades

    for model in (DailyInsight, ReportRow):
        model._get_collection().create_index(
            [("tenant_id", 1), ("account_id", 1), ("fetched_at", 1)]
        )
    AppliedUpgrade.objects(name="drop_fetched_at_indexes").delete()
    assert apply_upgrades() == ["drop_fetched_at_indexes"]
    for model in (DailyInsight, ReportRow):
        indexes = model._get_collection().index_information().values()
        assert not [i for i in indexes if ("fetched_at", 1) in i["key"]]
        assert [i for i in indexes if i["key"] == [("tenant_id", 1), ("account_id", 1), ("seq", 1)]]


def test_numbers_are_unique_and_released_under_concurrent_writers(mongo: str) -> None:
    def reserve_and_release(numbers: list[int]) -> None:
        for _ in range(50):
            number = numbering.reserve(TENANT, ACCOUNT)
            numbers.append(number)
            numbering.release(TENANT, ACCOUNT, number)

    taken: list[list[int]] = [[] for _ in range(6)]
    workers = [in_thread(f"w{i}", partial(reserve_and_release, taken[i])) for i in range(6)]
    for worker in workers:
        worker.finish()
    numbers = [n for mine in taken for n in mine]
    assert sorted(numbers) == list(range(1, 301))
    assert all(mine == sorted(mine) for mine in taken)  # each writer's numbers grow
    sequence = WriteSequence.objects.get(tenant_id=TENANT, account_id=ACCOUNT)
    assert (sequence.last, sequence.inflight) == (300, [])
    assert numbering.watermark(TENANT, ACCOUNT, numbering.server_time()) == 301


def test_the_write_lease_outlasts_a_sync_tasks_hard_time_limit() -> None:
    """The assumption the lease rests on: a worker is killed long before its number expires."""
    from workers.base import MetaSyncTask

    assert MetaSyncTask.time_limit * 2 <= numbering.LEASE_SECONDS


@pytest.mark.slow
def test_two_connections_of_a_tenant_syncing_while_it_exports(
    ctx: SyncContext,
    world: Any,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from metasync.reports.store import set_enabled
    from metasync.sync import run_inline
    from metasync.sync.connections import add_connection
    from tests.support.inline import perf

    tenant = "agency"
    connections = [add_connection(ctx, tenant, u["token"]) for u in world.info["users"]]
    set_enabled(tenant, "country", True)
    for connection in connections:
        run_inline(ctx, str(connection.pk))  # the objects: the accounts to export
    original = Collection.bulk_write

    def bulk_write(collection: Collection[Any], *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.002 * (hash(threading.current_thread().name) % 5))  # commits out of order
        return original(collection, *args, **kwargs)

    monkeypatch.setattr(Collection, "bulk_write", bulk_write)
    syncing = threading.Event()
    during: list[int] = []  # daily rows each export read while the writers wrote
    exported = threading.Condition()

    def exports_since(seen: int, count: int) -> bool:
        return len(during) >= seen + count

    def exports() -> None:
        while not syncing.is_set():
            read = export_tenant(tenant, postgres_url, batch_rows=50).read["daily"]
            with exported:
                during.append(read)
                exported.notify_all()

    account = AdAccount.objects(tenant_id=tenant).first().account_id

    def pages(name: str) -> None:  # subtasks of one account writing the same rows at once
        for day in range(1, 16):
            page = items(["1", "2", "3"], f"2026-10-{day:02d}", f"{day}.{len(name)}")
            write_rows(ctx, MetaConnection(tenant_id=tenant), None, account, "ad", page)
            with exported:  # the next page waits for an export that started after this one
                exported.wait_for(partial(exports_since, len(during), 2), timeout=60)

    exporter = in_thread("export", exports)
    writers = [in_thread(f"sync-{i}", partial(perf, ctx, c)) for i, c in enumerate(connections)]
    writers += [in_thread(name, partial(pages, name)) for name in ("a", "bb", "ccc")]
    try:
        for writer in writers:
            writer.finish()
    finally:
        syncing.set()
        exporter.finish()
    assert sum(1 for read in during if read) >= 3  # exports read rows while writers wrote
    export_tenant(tenant, postgres_url)
    assert warehouse(postgres_url, tenant) == mirror(tenant)
    assert len(mirror(tenant)) > 100
    assert report_rows(postgres_url, tenant) == mirrored_reports(tenant) != {}


# -- random interleavings ------------------------------------------------------------------

KEYS = [(ad, day) for ad in "123456" for day in ("2026-11-01", "2026-11-02", "2026-11-03")]
PAGE = st.lists(st.tuples(st.sampled_from(KEYS), st.integers(1, 10_000)), min_size=1, max_size=3)
PHASES = ("reserve", "daily", "reports", "release")


class Writer:
    """One worker writing its pages: reserve a number, write the daily rows, write the report
    rows (each its own commit), release; its own clock (its rows' ``fetched_at``)."""

    def __init__(self, tenant: str, account: str, pages: list[list[Any]], skew: int) -> None:
        self.tenant, self.account, self.pages, self.skew = tenant, account, pages, skew
        self.phase, self.number = 0, 0

    @property
    def steps(self) -> int:
        return len(PHASES) * len(self.pages)

    def step(self) -> None:
        phase, page = PHASES[self.phase], self.pages[0]
        now = utcnow() + timedelta(seconds=self.skew)
        base = {
            "tenant_id": self.tenant,
            "account_id": self.account,
            "level": "ad",
            "breakdown_key": "",
            "attribution_key": "default",
            "fetched_at": now,
        }
        if phase == "reserve":
            self.number = numbering.reserve(self.tenant, self.account)
        elif phase == "daily":
            rows = [
                {**base, "entity_id": ad, "date": day, "spend": Decimal(cents) / 100}
                for (ad, day), cents in page
            ]
            upsert_page(DailyInsight, rows, number=self.number)
        elif phase == "reports":
            rows = [
                {
                    **base,
                    "report": "country",
                    "entity_id": ad,
                    "span": day,
                    "breakdown_key": "country=FR",
                    "spend": Decimal(cents) / 100,
                }
                for (ad, day), cents in page
            ]
            upsert_page(ReportRow, rows, number=self.number)
        else:
            numbering.release(self.tenant, self.account, self.number)
            self.pages.pop(0)
        self.phase = (self.phase + 1) % len(PHASES)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    # an example is real I/O (half a second): a failure prints its whole schedule unshrunk
    # rather than spending minutes making it shorter
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    plans=st.lists(st.lists(PAGE, min_size=1, max_size=3), min_size=3, max_size=3),
    skews=st.lists(st.integers(-600, 600), min_size=3, max_size=3),
    exports=st.integers(1, 5),
    data=st.data(),
)
def test_after_a_final_export_the_warehouse_equals_the_mirror_whatever_the_interleaving(
    mongo: str,
    postgres_url: str,
    plans: list[list[list[Any]]],
    skews: list[int],
    exports: int,
    data: st.DataObject,
) -> None:
    """Three writers (two on one account, one on another; clocks up to 10 minutes apart) and
    exports, every step of each in a random order: the warehouse equals the mirror after one
    more export."""
    tenant = f"t{uuid.uuid4().hex[:8]}"
    accounts = ("7", "8", "7")
    upsert_page(
        AdAccount,
        [{"tenant_id": tenant, "meta_id": f"act_{a}", "account_id": a} for a in set(accounts)],
    )
    url = postgres_url  # each example its own tenant, so its own schema
    writers = [
        Writer(tenant, account, plan, skew)
        for account, plan, skew in zip(accounts, plans, skews, strict=True)
    ]
    tokens = [i for i, w in enumerate(writers) for _ in range(w.steps)] + [-1] * exports
    for token in data.draw(st.permutations(tokens), label="schedule"):
        if token < 0:
            export_tenant(tenant, url, batch_rows=2)
        else:
            writers[token].step()
    export_tenant(tenant, url, batch_rows=2)
    assert warehouse(url, tenant) == mirror(tenant) != {}
    assert report_rows(url, tenant) == mirrored_reports(tenant)


class _Interrupted(BaseException):
    """A ``BaseException`` raised inside the write, as a time limit's may be."""


@pytest.mark.parametrize(
    "failure",
    [AutoReconnect("connection reset"), NetworkTimeout("timed out"), _Interrupted()],
    ids=["auto-reconnect", "network-timeout", "base-exception"],
)
def test_a_write_whose_fate_the_server_did_not_tell_keeps_its_number_in_flight(
    writer: SyncContext, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    """The rows were sent and then the client lost the answer: the server may still commit
    them, so the export must not pass their number until its entry expires."""
    original = Collection.bulk_write

    def bulk_write(collection: Collection[Any], *args: Any, **kwargs: Any) -> Any:
        original(collection, *args, **kwargs)  # the server applies it; the answer is lost
        raise failure

    monkeypatch.setattr(Collection, "bulk_write", bulk_write)
    with pytest.raises(type(failure)):
        write(writer, items(["1"], "2026-11-01", "1.00"))
    seq = DailyInsight.objects.get(tenant_id=TENANT, entity_id="1").seq
    assert numbering.watermark(TENANT, ACCOUNT, numbering.server_time()) == seq
    entries = WriteSequence.objects.get(tenant_id=TENANT, account_id=ACCOUNT).inflight
    assert [e["seq"] for e in entries] == [seq]


def test_a_write_the_server_refused_releases_its_number(
    writer: SyncContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Collection.bulk_write

    def bulk_write(collection: Collection[Any], *args: Any, **kwargs: Any) -> Any:
        original(collection, *args, **kwargs)
        raise BulkWriteError({"writeErrors": [{"index": 0, "code": 11000, "errmsg": "dup"}]})

    monkeypatch.setattr(Collection, "bulk_write", bulk_write)
    with pytest.raises(BulkWriteError):
        write(writer, items(["1"], "2026-11-01", "1.00"))
    seq = DailyInsight.objects.get(tenant_id=TENANT, entity_id="1").seq
    assert numbering.watermark(TENANT, ACCOUNT, numbering.server_time()) == seq + 1
    assert WriteSequence.objects.get(tenant_id=TENANT, account_id=ACCOUNT).inflight == []
