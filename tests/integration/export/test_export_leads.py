"""Lead Ads in every destination: a form, its leads and their answers arrive once however many
exports run, and an erased lead leaves the warehouse with its answers (metasync.export.leads).
The leads are written as the lead sync writes them (metasync.models.leads: sealed answers, a
write number of the page's stream), the erasure as ``metasync leads erase`` records it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from metasync.config import get_settings
from metasync.crypto import TokenCipher
from metasync.export import export_tenant
from metasync.export.destinations import schema_for
from metasync.models import Lead, LeadForm, numbering
from metasync.models.deletions import record_removed
from metasync.models.leads import lead_stream
from tests.integration.export.test_cloud_warehouses import bigquery_query, snowflake_query

TENANT = "acme"
PAGE = "5550001"
STREAM = lead_stream(PAGE)
FORM = "7770001"
PAID, ORGANIC = "9990001", "9990002"
EMAIL = "ada.lovelace@example.com"
Read = Callable[[str, str], list[tuple[Any, ...]]]  # (table, columns) -> rows


@pytest.fixture
def cipher(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenCipher]:
    """The tenant's settings in the environment the export reads, and their key."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield TokenCipher(env["ENCRYPTION_KEY"])
    get_settings.cache_clear()


def write_lead(
    cipher: TokenCipher, lead_id: str, answers: list[dict[str, Any]], **where: str
) -> None:
    """One lead as the sync stores it: answers sealed, under a write number of its page."""

    def write(seq: int) -> None:
        Lead._get_collection().delete_many({"tenant_id": TENANT, "lead_id": lead_id})
        lead = Lead(
            tenant_id=TENANT,
            connection_id="c1",
            page_id=PAGE,
            form_id=FORM,
            lead_id=lead_id,
            created_time=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
            account_id=STREAM,
            seq=seq,
            is_organic=not where,
            platform="fb",
            **where,
        )
        lead.set_answers(cipher, answers)
        lead.save()

    numbering.under_number(TENANT, STREAM, write)


def erase(lead_id: str) -> None:
    """The erasure of one lead as ``metasync leads erase`` records it (contract of
    metasync.models.leads): removed and recorded under one number of its page's stream."""

    def remove(seq: int) -> None:
        record_removed(TENANT, STREAM, "leads", [{"lead_id": lead_id}], seq)
        Lead._get_collection().delete_one({"tenant_id": TENANT, "lead_id": lead_id})

    numbering.under_number(TENANT, STREAM, remove)


def destination(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Read]:
    """A destination's URL and a reader of its tables."""
    schema = schema_for(TENANT)
    if kind == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))

        def postgres(table: str, columns: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(url) as con:
                sql = f"SELECT {columns} FROM {schema}.{table}"
                return [tuple(r) for r in con.execute(sql.encode()).fetchall()]

        return url, postgres
    if kind in ("duckdb", "parquet"):
        path = tmp_path / ("w.duckdb" if kind == "duckdb" else "lake")

        def local(table: str, columns: str) -> list[tuple[Any, ...]]:
            source = (
                f"{schema}.{table}"
                if kind == "duckdb"
                else f"'{path / schema / (table + '.parquet')}'"
            )
            with duckdb.connect(str(path) if kind == "duckdb" else ":memory:") as con:
                return [tuple(r) for r in con.execute(f"SELECT {columns} FROM {source}").fetchall()]

        return f"{kind}:///{path}", local
    url = str(request.getfixturevalue(f"{kind}_url"))
    return url, (snowflake_query if kind == "snowflake" else bigquery_query)(url, schema)


@pytest.mark.parametrize("kind", ["postgresql", "duckdb", "parquet", "snowflake", "bigquery"])
def test_leads_arrive_once_with_their_answers_and_an_erased_lead_leaves(
    cipher: TokenCipher,
    mongo: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url, read = destination(kind, request, tmp_path)
    LeadForm(
        tenant_id=TENANT,
        connection_id="c1",
        page_id=PAGE,
        form_id=FORM,
        name="Quote",
        status="ACTIVE",
        locale="en_US",
        questions=[{"key": "email", "label": "Email", "type": "EMAIL"}],
    ).save()
    answers = [
        {"name": "email", "values": [EMAIL]},
        {"name": "which_rooms", "values": ["kitchen", "bath"]},
    ]
    write_lead(
        cipher, PAID, answers, ad_id="111", adset_id="222", campaign_id="333", ad_account_id="101"
    )
    write_lead(cipher, ORGANIC, [{"name": "email", "values": ["grace@example.com"]}])
    first = export_tenant(TENANT, url)
    assert not first.rejected, first.rejected
    write_lead(cipher, ORGANIC, [{"name": "email", "values": ["grace@example.com"]}])  # again
    second = export_tenant(TENANT, url)
    assert first.read["leads"] == 2 and second.read["leads"] == 1  # each write once

    leads = read("lead", "id, form_id, ad_id, adset_id, campaign_id, account_id, is_organic")
    assert sorted((int(r[0]), *r[1:]) for r in leads) == [
        (int(PAID), int(FORM), 111, 222, 333, 101, False),
        (int(ORGANIC), int(FORM), None, None, None, None, True),
    ]  # one row per lead after two exports (and three writes)
    assert [int(r[0]) for r in read("lead_form", "id")] == [int(FORM)]
    names = sorted((int(r[0]), str(r[1])) for r in read("lead_field_data", "lead_id, name"))
    assert names == [(int(PAID), "email"), (int(PAID), "which_rooms"), (int(ORGANIC), "email")]
    if kind in ("postgresql", "duckdb", "parquet"):  # the answers themselves, opened
        value = '"value"' if kind == "postgresql" else "value"
        opened = {str(r[0]) for r in read("lead_field_data", f"{value}::text")}
        assert any(EMAIL in v for v in opened) and any("kitchen" in v for v in opened), opened

    erase(PAID)
    third = export_tenant(TENANT, url)
    assert third.deleted["lead"] == 1
    assert [int(r[0]) for r in read("lead", "id")] == [int(ORGANIC)]
    assert [int(r[0]) for r in read("lead_field_data", "lead_id")] == [int(ORGANIC)]
    assert export_tenant(TENANT, url).read["deleted"] == 0  # the erasure is carried once
    assert EMAIL not in caplog.text and "kitchen" not in caplog.text  # no answer in any log


def test_an_erasure_before_the_first_export_leaves_nothing_behind(
    cipher: TokenCipher, mongo: str, postgres_url: str
) -> None:
    """A lead erased before it was ever exported is never written, and its erasure deletes
    nothing else."""
    write_lead(cipher, PAID, [{"name": "email", "values": [EMAIL]}], ad_id="111")
    write_lead(cipher, ORGANIC, [{"name": "email", "values": ["grace@example.com"]}])
    erase(PAID)
    result = export_tenant(TENANT, postgres_url)
    assert result.read["leads"] == 1 and result.read["deleted"] == 1
    with psycopg.connect(postgres_url) as con:
        schema = schema_for(TENANT)
        found = con.execute(f"SELECT id FROM {schema}.lead".encode()).fetchall()
        answers = con.execute(f"SELECT lead_id FROM {schema}.lead_field_data".encode()).fetchall()
    assert [int(r[0]) for r in found] == [int(ORGANIC)]
    assert [int(r[0]) for r in answers] == [int(ORGANIC)]


def test_a_lead_read_again_replaces_its_answers_as_a_set(
    cipher: TokenCipher, mongo: str, postgres_url: str
) -> None:
    """The webhook and the sync may both store a lead: the later write's answers are the
    lead's answers in the warehouse, a question it no longer has included."""
    first = [{"name": "email", "values": [EMAIL]}, {"name": "city", "values": ["Paris"]}]
    write_lead(cipher, PAID, first, ad_id="111")
    export_tenant(TENANT, postgres_url)
    write_lead(cipher, PAID, [{"name": "email", "values": ["ada@example.org"]}], ad_id="111")
    result = export_tenant(TENANT, postgres_url)
    assert result.read["leads"] == 1
    with psycopg.connect(postgres_url) as con:
        sql = f'SELECT name, "value"::text FROM {schema_for(TENANT)}.lead_field_data'
        rows = con.execute(sql.encode()).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("email", '["ada@example.org"]')]
