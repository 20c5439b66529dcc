"""The export's pure parts: destination URLs and labels, schema names, identifiers, the rates
file and the conversion's gaps, URL tags, action rows and the merge statements."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from metasync.export.currency import Converter, RatesError, parse_rates
from metasync.export.destinations import DestinationError, check, label, schema_for
from metasync.export.fivetran import action_rows, url_tag_rows
from metasync.export.sql import quote, upsert
from metasync.export.tables import TABLES

SYNCED = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_label_never_shows_the_password() -> None:
    assert label("postgresql://u:pw@db:5432/w") == "postgresql://u:***@db:5432/w"
    assert label("duckdb:///tmp/w.duckdb") == "duckdb:///tmp/w.duckdb"


def test_schemes_are_checked() -> None:
    assert check("postgres://u@h/d") == "postgres"
    with pytest.raises(DestinationError, match="redshift is not a metasync destination yet"):
        check("redshift://acct/db")
    assert check("snowflake://acct/db?user=etl&secret=acme-snowflake") == "snowflake"
    for url in ("snowflake://etl:hunter2@acct/db?secret=s", "snowflake://acct/db?password=hunter2"):
        with pytest.raises(DestinationError, match="snowflake") as refused:
            check(url)
        assert "hunter2" not in str(refused.value)
    with pytest.raises(DestinationError, match="names no secret="):
        check("snowflake://acct/db?user=etl")
    assert check("bigquery://acme-analytics/EU") == "bigquery"
    assert check("bigquery://acme-analytics/US?secret=acme-sa.json") == "bigquery"
    assert check("bigquery://p/US?endpoint=http://127.0.0.1:9050") == "bigquery"
    for url in ("bigquery://etl:hunter2@p/US", "bigquery://p/US?key=hunter2"):
        with pytest.raises(DestinationError, match="bigquery") as refused:
            check(url)
        assert "hunter2" not in str(refused.value)
    with pytest.raises(DestinationError, match="endpoint= is not an http"):
        check("bigquery://p/US?endpoint=ftp://h")
    with pytest.raises(DestinationError, match="unknown destination scheme 'ftp'") as refused:
        check("ftp://u:secret@h/x")
    assert "secret" not in str(refused.value)


def test_tenant_schemas_are_identifiers_and_never_shared() -> None:
    assert schema_for("acme") == "facebook_ads_acme"
    odd, other = schema_for("Acme Corp"), schema_for("acme-corp")
    assert odd != other
    assert odd.startswith("facebook_ads_acme_corp_") and quote(odd)


def test_identifiers_that_are_not_plain_names_are_refused() -> None:
    with pytest.raises(ValueError, match="not a valid warehouse identifier"):
        quote('x"; DROP TABLE y; --')


def test_an_upsert_compares_values_but_not_sync_stamps() -> None:
    statement = upsert("s", TABLES["basic_ad"], "stage")
    assert 'ON CONFLICT ("ad_id", "date") DO UPDATE' in statement
    assert '"s"."basic_ad"."spend" IS DISTINCT FROM EXCLUDED."spend"' in statement
    assert '"_fivetran_synced" IS DISTINCT FROM' not in statement


def ecb(text: str) -> bytes:
    return text.encode()


def test_the_rates_file_and_its_zip_are_read() -> None:
    text = "Date,USD,JPY,\n2026-12-04,1.05,N/A,\n2026-12-03,1.04,160.1,\n"
    rows = parse_rates(ecb(text), "f")
    assert {(r["currency"], r["date"], r["per_euro"]) for r in rows} == {
        ("USD", "2026-12-04", Decimal("1.05")),
        ("USD", "2026-12-03", Decimal("1.04")),
        ("JPY", "2026-12-03", Decimal("160.1")),
    }
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("eurofxref-hist.csv", text)
    assert parse_rates(packed.getvalue(), "z") == rows
    with pytest.raises(RatesError, match="USD on 2026-12-04 is '-1'"):
        parse_rates(ecb("Date,USD,\n2026-12-04,-1,\n"), "f")


def test_a_day_without_rates_takes_the_latest_earlier_one() -> None:
    converter = Converter("EUR")
    converter._rates = {"USD": [("2026-12-04", Decimal("1.25"))]}  # a Friday
    assert converter.rate("USD", "2026-12-06") == Decimal("0.8")  # Sunday: Friday's rate
    assert converter.rate("USD", "2026-12-03") is None  # before any rate: none, not a guess
    assert converter.rate("EUR", "2026-12-03") == Decimal(1)
    cross = Converter("GBP")
    cross._rates = {
        "USD": [("2026-12-04", Decimal("1.25"))],
        "GBP": [("2026-12-04", Decimal("0.85"))],
    }
    assert cross.rate("USD", "2026-12-04") == Decimal("0.68")


def test_url_tags_become_fivetrans_rows() -> None:
    rows = url_tag_rows({"meta_id": "42", "url_tags": "utm_source=fb&utm_medium=paid"}, SYNCED)
    names = TABLES["url_tag"].names
    found = [dict(zip(names, row, strict=True)) for row in rows]
    assert [(r["creative_id"], r["key"], r["value"]) for r in found] == [
        (42, "utm_source", "fb"),
        (42, "utm_medium", "paid"),
    ]


def test_action_rows_sum_devices_and_take_windows_from_a_windowed_read() -> None:
    parent = {"ad_id": "7", "date": date(2026, 12, 1)}
    entries = [{"action_type": "purchase", "value": "2"}, {"action_type": "purchase", "value": "1"}]
    windows = [
        {"action_type": "purchase", "value": "3", "7d_click": "2", "1d_view": "1"},
        {"action_type": "link_click", "value": "9", "7d_click": "9"},  # not in the daily read
    ]
    rows = action_rows("basic_ad_actions", parent, entries, SYNCED, windows=windows)
    names = TABLES["basic_ad_actions"].names
    (row,) = [dict(zip(names, r, strict=True)) for r in rows]
    assert (row["action_type"], row["value"], row["_7_d_click"], row["_1_d_view"]) == (
        "purchase", 3.0, 2.0, 1.0,
    )  # fmt: skip
    assert row["_28_d_click"] is None
