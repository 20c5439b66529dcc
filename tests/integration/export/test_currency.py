"""A tenant's reporting currency: rates from an ECB-shaped file (served by the sandbox), spend
and revenue converted at each day's rate in the export and the API, several account
currencies adding up in one."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import requests
from fastapi.testclient import TestClient

from metasync.api.keys import create_key
from metasync.config import load_settings
from metasync.export import export_tenant
from metasync.export.currency import RatesError, load_rates
from metasync.export.destinations import schema_for
from metasync.export.targets import set_currency
from metasync.models import AdAccount, FxRate, MetaConnection
from metasync.webhooks.app import create_app
from tests.integration.export.test_export import querier
from tests.support.sandbox import Sandbox


def expected_rates(text: str) -> dict[tuple[str, str], Decimal]:
    """(currency, day) -> units per euro, read from the file the way the bank publishes it."""
    rates = {}
    for line in csv.DictReader(io.StringIO(text)):
        for name, value in line.items():
            if name and name != "Date" and value not in ("N/A", "", None):
                rates[(name, line["Date"])] = Decimal(value)
    return rates


def rate_on(rates: dict[tuple[str, str], Decimal], currency: str, day: str) -> Decimal:
    """Units of EUR per unit of ``currency`` on ``day`` (the latest working day's rate)."""
    if currency == "EUR":
        return Decimal(1)
    known = max(d for c, d in rates if c == currency and d <= day)
    return Decimal(1) / rates[(currency, known)]


def test_spend_is_converted_at_each_days_rate(
    world: Sandbox, synced: list[MetaConnection], tmp_path: Path
) -> None:
    url = f"{world.url}/_sandbox/ecb/eurofxref-hist.csv"
    loaded = load_rates(url)
    assert loaded.rows == loaded.changed == FxRate.objects.count() > 0
    assert load_rates(url).changed == 0  # the same rates again change nothing
    rates = expected_rates(requests.get(url, timeout=10).text)
    tenant = synced[1].tenant_id  # GBP and JPY accounts: two currencies, one total
    currencies = {a.currency for a in AdAccount.objects(tenant_id=tenant)}
    assert len(currencies) == 2 and "EUR" not in currencies
    set_currency(tenant, "EUR")
    destination = f"duckdb:///{tmp_path}/w.duckdb"
    export_tenant(tenant, destination)
    rows = querier(destination)(
        f"SELECT currency, date, spend, fx_rate, spend_reporting, reporting_currency "
        f"FROM {schema_for(tenant)}.basic_ad"
    )
    assert rows
    total = Decimal(0)
    for currency, day, spend, fx_rate, converted, target in rows:
        wanted = rate_on(rates, currency, day.isoformat())
        assert target == "EUR"
        assert abs(Decimal(fx_rate) - wanted) < Decimal("1e-9"), (currency, day)
        assert Decimal(converted) == (Decimal(spend) * Decimal(fx_rate)).quantize(Decimal("0.01"))
        total += Decimal(converted)
    summed = querier(destination)(
        f"SELECT sum(spend_reporting) FROM {schema_for(tenant)}.basic_ad"
    )[0][0]
    assert Decimal(summed) == total  # both currencies add up in euros


def test_the_api_gives_the_reporting_currency_beside_the_accounts(
    world: Sandbox,
    synced_first: list[MetaConnection],
    sync_env: dict[str, str],
    redis_client: redis.Redis,
) -> None:
    load_rates(f"{world.url}/_sandbox/ecb/eurofxref-hist.csv")
    tenant = synced_first[0].tenant_id
    set_currency(tenant, "GBP")
    app = create_app(
        load_settings({**sync_env, "META_APP_VERIFY_TOKEN": "verify"}),
        lambda c, k: None, redis_client, connect_db=False,
    )  # fmt: skip
    _, key = create_key(tenant, "bi", by="test")
    with TestClient(app) as api:
        page = api.get(
            "/api/v1/insights", headers={"Authorization": f"Bearer {key}"},
            params={"level": "ad", "limit": 50},
        )  # fmt: skip
    assert page.status_code == 200, page.text
    rows = page.json()["data"]
    assert rows and all(r["reporting_currency"] == "GBP" for r in rows)
    for row in rows:
        assert row["fx_rate"] is not None, row
        expected = (Decimal(row["spend"]) * Decimal(row["fx_rate"])).quantize(Decimal("0.01"))
        assert Decimal(row["spend_reporting"]) == expected
    assert {r["currency"] for r in rows} <= {"USD", "EUR"}


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"Day,USD\n2026-01-02,1.1\n", "expected a 'Date' column"),
        (b"Date,USD,\n2026-01-02,abc,\n", "USD on 2026-01-02 is 'abc'"),
        (b"Date,USD,\n", "no rates in the file"),
    ],
)
def test_a_rates_file_that_cannot_be_read_is_refused_by_name(
    mongo: str, tmp_path: Path, content: bytes, named: str
) -> None:
    path = tmp_path / "rates.csv"
    path.write_bytes(content)
    with pytest.raises(RatesError, match=named):
        load_rates(str(path))
    assert FxRate.objects.count() == 0  # nothing half-loaded
