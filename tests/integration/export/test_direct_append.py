"""A first export's batch appended straight into its table when one query proves that none of
its keys is there (metasync.export.newkeys), and staged and merged otherwise: in Snowflake and
BigQuery (their emulators, over the wire) and DuckDB, which enforce no key or cannot take a
failed statement back. A batch whose keys partly exist, a batch holding a key twice, a
restated batch and a child table whose parents have children all end one row per key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from metasync.export.destinations import connect
from metasync.export.lease import ExportError
from metasync.export.merge import MergeWarehouse
from metasync.export.newkeys import MAX_LISTED, box
from metasync.export.snowflake import session_parameters
from metasync.export.sql import quote
from metasync.export.tables import TABLES, Table
from metasync.export.warehouse import Warehouse

BASIC_AD = TABLES["basic_ad"]
ACTIONS = TABLES["basic_ad_actions"]
DAY = date(2026, 11, 2)
SYNCED = datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)
DEFAULTS = {
    "text": "x",
    "bigint": 7,
    "integer": 1,
    "double": 1.5,
    "numeric": Decimal("2.25"),
    "date": DAY,
    "timestamp": SYNCED,
    "boolean": True,
    "json": None,
}


def row(table: Table, **values: Any) -> tuple[Any, ...]:
    """A row of ``table`` (``table.names`` order): ``values`` and a plain value elsewhere."""
    kinds = {c.name: c.kind for c in table.columns}
    return tuple(values.get(n, DEFAULTS[kinds[n]]) for n in table.names)


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("snowflake", marks=pytest.mark.slow),  # the emulators' setup: 10 s or more
        pytest.param("bigquery", marks=pytest.mark.slow),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb://{tmp_path}/direct.duckdb"
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def warehouse(url: str) -> Iterator[Warehouse]:
    opened = connect(url)
    opened.open_schema("facebook_ads_direct")
    yield opened
    opened.close()


class Statements:
    """The statements a warehouse runs, recorded."""

    def __init__(self, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[str] = []
        execute = warehouse.execute

        def recorded(sql: str, params: Any = ()) -> int:
            self.seen.append(sql)
            return execute(sql, params)

        monkeypatch.setattr(warehouse, "execute", recorded)

    def merged(self) -> bool:
        """Whether a statement merged (``MERGE``, ``ON CONFLICT``) or deleted orphans."""
        return any(word in sql for sql in self.seen for word in ("MERGE", "ON CONFLICT", "DELETE"))


def stored(warehouse: Warehouse, table: Table, columns: str) -> list[tuple[Any, ...]]:
    names = [c.strip() for c in columns.split(",")]
    if isinstance(warehouse, MergeWarehouse):
        target = warehouse.target(table.name)
        picked = ", ".join(warehouse.ident(n) for n in names)
    else:
        target = f"{quote(warehouse.schema)}.{quote(table.name)}"
        picked = ", ".join(quote(n) for n in names)
    return sorted(tuple(r) for r in warehouse.query(f"SELECT {picked} FROM {target}"))


def test_a_first_batch_of_new_keys_is_appended_without_a_merge(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = Statements(warehouse, monkeypatch)
    rows = [row(BASIC_AD, ad_id="1", spend=Decimal("1.5")), row(BASIC_AD, ad_id="2")]
    assert warehouse.load(BASIC_AD, rows) == 2
    warehouse.commit()
    assert not statements.merged(), statements.seen
    assert stored(warehouse, BASIC_AD, "ad_id, spend") == [
        ("1", Decimal("1.5")),
        ("2", Decimal("2.25")),
    ]


def test_a_batch_whose_keys_partly_exist_is_merged_without_a_duplicate(
    warehouse: Warehouse,
) -> None:
    warehouse.load(BASIC_AD, [row(BASIC_AD, ad_id="1"), row(BASIC_AD, ad_id="2")])
    warehouse.commit()
    again = [row(BASIC_AD, ad_id="2", spend=Decimal("9")), row(BASIC_AD, ad_id="3")]
    assert warehouse.load(BASIC_AD, again) == 2  # one changed, one added
    warehouse.commit()
    assert stored(warehouse, BASIC_AD, "ad_id, spend") == [
        ("1", Decimal("2.25")),
        ("2", Decimal("9")),
        ("3", Decimal("2.25")),
    ]


def test_a_table_an_earlier_export_filled_is_asked_before_an_append(
    url: str, warehouse: Warehouse
) -> None:
    """A new connection does not know what an earlier one wrote: the query finds the key."""
    warehouse.load(BASIC_AD, [row(BASIC_AD, ad_id="1"), row(BASIC_AD, ad_id="2")])
    warehouse.commit()
    later = connect(url)
    try:
        later.open_schema("facebook_ads_direct")
        again = [row(BASIC_AD, ad_id="2", spend=Decimal("9")), row(BASIC_AD, ad_id="3")]
        assert later.load(BASIC_AD, again) == 2
        later.commit()
    finally:
        later.close()
    warehouse.commit()  # a snapshot taken after the later connection's commit
    assert stored(warehouse, BASIC_AD, "ad_id, spend") == [
        ("1", Decimal("2.25")),
        ("2", Decimal("9")),
        ("3", Decimal("2.25")),
    ]


def test_a_key_twice_in_one_batch_leaves_its_last_row(warehouse: Warehouse) -> None:
    rows = [
        row(BASIC_AD, ad_id="1", spend=Decimal("1")),
        row(BASIC_AD, ad_id="2"),
        row(BASIC_AD, ad_id="1", spend=Decimal("3")),
    ]
    assert warehouse.load(BASIC_AD, rows) == 2
    warehouse.commit()
    assert stored(warehouse, BASIC_AD, "ad_id, spend") == [
        ("1", Decimal("3")),
        ("2", Decimal("2.25")),
    ]


def test_a_restated_batch_is_merged(warehouse: Warehouse) -> None:
    warehouse.load(BASIC_AD, [row(BASIC_AD, ad_id="1"), row(BASIC_AD, ad_id="2")])
    warehouse.commit()
    restated = [row(BASIC_AD, ad_id="1", spend=Decimal("4")), row(BASIC_AD, ad_id="2")]
    assert warehouse.load(BASIC_AD, restated, fresh=False) == 1  # only the changed row
    warehouse.commit()
    assert stored(warehouse, BASIC_AD, "ad_id, spend") == [
        ("1", Decimal("4")),
        ("2", Decimal("2.25")),
    ]


def test_children_of_a_parent_already_there_are_replaced_as_a_set(warehouse: Warehouse) -> None:
    """A fresh batch whose parent has children falls back to the merge, which deletes the
    children the new read no longer has."""
    first = [row(ACTIONS, ad_id="1", action_type=t) for t in ("click", "view")]
    assert warehouse.load(ACTIONS, first, [("1", DAY)]) == 2
    warehouse.commit()
    again = [row(ACTIONS, ad_id="1", action_type="click", value=5.0)]
    warehouse.load(ACTIONS, again, [("1", DAY), ("2", DAY)])
    warehouse.commit()
    assert stored(warehouse, ACTIONS, "ad_id, action_type, value") == [("1", "click", 5.0)]


def test_a_parent_without_children_now_removes_none_elsewhere(warehouse: Warehouse) -> None:
    warehouse.load(ACTIONS, [row(ACTIONS, ad_id="1", action_type="click")], [("1", DAY)])
    warehouse.commit()
    assert warehouse.load(ACTIONS, [], [("2", DAY)]) == 0  # ad 2: nothing there, nothing new
    warehouse.commit()
    assert stored(warehouse, ACTIONS, "ad_id, action_type") == [("1", "click")]


def test_the_box_holds_every_key_of_the_batch() -> None:
    """The condition is a box around the keys: ids listed (or ranged past MAX_LISTED), text
    and dates ranged, times unconstrained."""
    keys = [(3, "b", DAY, SYNCED), (1, "a", date(2026, 1, 1), SYNCED)]
    found = box(
        ("id", "name", "day", "at"), ("bigint", "text", "date", "timestamp"), keys, quote, "?"
    )
    assert found.where == '"id" IN (1, 3) AND "name" BETWEEN ? AND ? AND "day" BETWEEN ? AND ?'
    assert found.params == ["a", "b", date(2026, 1, 1), DAY]
    many = [(i,) for i in range(MAX_LISTED + 1)]
    assert box(("id",), ("bigint",), many, quote, "?").where == f'"id" BETWEEN 0 AND {MAX_LISTED}'
    mixed = [(1,), ("c1",)]  # an id that is not a number: unconstrained, never wrong
    assert box(("id",), ("bigint",), mixed, quote, "?").where == ""


def test_snowflake_sessions_wait_no_longer_than_the_lease() -> None:
    parameters = session_parameters(300)
    assert parameters["LOCK_TIMEOUT"] == 300
    assert parameters["STATEMENT_TIMEOUT_IN_SECONDS"] == 300


@pytest.mark.slow
def test_bigquery_submits_no_job_once_the_lease_is_lost(bigquery_url: str) -> None:
    """BigQuery commits each statement on its own: an export that lost its lease must not
    submit another, and each job ends before the lease it renewed runs out."""
    warehouse = connect(bigquery_url)
    try:
        warehouse.open_schema("facebook_ads_fenced")
        held = {"lease": True}

        def renew() -> None:
            if not held["lease"]:
                raise ExportError("the export's lease was taken over")

        warehouse.hold(renew, 100)
        assert warehouse._job_ms == 80_000  # type: ignore[attr-defined]
        warehouse.load(BASIC_AD, [row(BASIC_AD, ad_id="1")])
        warehouse.commit()
        held["lease"] = False
        with pytest.raises(ExportError):
            warehouse.load(BASIC_AD, [row(BASIC_AD, ad_id="2", spend=Decimal("5"))])
        held["lease"] = True
        assert stored(warehouse, BASIC_AD, "ad_id, spend") == [("1", Decimal("2.25"))]
    finally:
        warehouse.close()
