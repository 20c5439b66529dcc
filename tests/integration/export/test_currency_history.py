"""A reporting currency that covers history: setting it, or loading rates, sends every stored
day again (a rebuild by day, resumable); a day without a usable rate says why in the
warehouse, on the export's run, in the API and in the CLI's output."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import requests
from fastapi.testclient import TestClient

from metasync.api.keys import create_key
from metasync.config import load_settings
from metasync.export import export_tenant, rebuild
from metasync.export.currency import STALE_DAYS, Converter, RatesError, load_rates
from metasync.export.destinations import schema_for
from metasync.export.targets import set_currency
from metasync.models import (
    REBUILT,
    CurrencyRebuild,
    DailyInsight,
    ExportRun,
    FxRate,
    MetaConnection,
    TenantSettings,
    as_decimal,
)
from metasync.sandbox.world import WorldSize
from metasync.upgrades import currency_history
from metasync.webhooks.app import create_app
from tests.integration.export.test_export import querier
from tests.support.sandbox import Sandbox
from tests.support.small_world import quick_reports_env, small_world

DAYS = 30
TARGET = "GBP"  # the first tenant's accounts are in USD and EUR
Rates = dict[tuple[str, str], Decimal]


@pytest.fixture
def world_size() -> WorldSize:
    return small_world(users=1, days=DAYS)


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return quick_reports_env(sync_env, days=DAYS)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metasync", "export", *args],
        env={"PATH": os.environ.get("PATH", ""), "COLUMNS": "400", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def ecb_text(world: Sandbox) -> str:
    return requests.get(f"{world.url}/_sandbox/ecb/eurofxref-hist.csv", timeout=10).text


def rewritten(text: str, change: Callable[[str, str, str], str]) -> str:
    """The rates file with each value replaced by ``change(currency, day, value)``."""
    reader = csv.DictReader(io.StringIO(text))
    out = io.StringIO()
    names = [n for n in reader.fieldnames or [] if n]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for line in reader:
        day = line["Date"]
        writer.writerow([day, *(change(n, day, line[n]) for n in names[1:])])
    return out.getvalue()


def parsed(text: str) -> Rates:
    rates = {}
    for line in csv.DictReader(io.StringIO(text)):
        for name, value in line.items():
            if name and name != "Date" and value not in ("N/A", "", None):
                rates[(name, line["Date"])] = Decimal(value)
    return rates


def expected_rate(rates: Rates, source: str, day: str) -> Decimal | None:
    """Units of TARGET per unit of ``source`` on ``day``: each side's latest rate on the day
    or the STALE_DAYS before, as the bank's guidance and metasync's docs say."""
    oldest = (date.fromisoformat(day) - timedelta(days=STALE_DAYS)).isoformat()

    def per_euro(currency: str) -> Decimal | None:
        if currency == "EUR":
            return Decimal(1)
        known = [d for (c, d) in rates if c == currency and oldest <= d <= day]
        return rates[(currency, max(known))] if known else None

    into, out_of = per_euro(TARGET), per_euro(source)
    if into is None or out_of is None:
        return None
    return (into / out_of).quantize(Decimal("0.0000000001"))


def truth(tenant: str, rates: Rates) -> tuple[Decimal, set[str], set[str]]:
    """From the mirror: the ad-level daily spend converted at ``rates`` (summed), the days
    that convert and the days that do not."""
    total, converted, unconverted = Decimal(0), set(), set()
    for doc in DailyInsight._get_collection().find({"tenant_id": tenant, "level": "ad"}):
        if doc.get("breakdown_key") or doc.get("attribution_key", "default") != "default":
            continue
        rate = expected_rate(rates, doc["currency"], doc["date"])
        if rate is None:
            unconverted.add(doc["date"])
            continue
        converted.add(doc["date"])
        total += (as_decimal(doc["spend"]) * rate).quantize(Decimal("0.01"))  # type: ignore[operator]
    return total, converted, unconverted


def assert_warehouse_follows(url: str, tenant: str, rates: Rates) -> None:
    """Every day of ``basic_ad`` and of the daily table carries TARGET, at ``rates``, and the
    summed converted spend is the mirror's."""
    schema = schema_for(tenant)
    rows = querier(url)(
        f"SELECT date, currency, spend, fx_rate, spend_reporting, reporting_currency, "
        f"reporting_note FROM {schema}.basic_ad"
    )
    days = {r[0].isoformat() for r in rows}
    assert len(days) >= DAYS - 2, sorted(days)  # the world's days (today's may be empty)
    for day, currency, spend, fx_rate, converted, target, note in rows:
        wanted = expected_rate(rates, currency, day.isoformat())
        assert target == TARGET, (day, currency)
        assert wanted is not None and note is None, (day, currency, note)
        assert abs(Decimal(fx_rate) - wanted) < Decimal("1e-9"), (day, currency, fx_rate, wanted)
        assert Decimal(converted) == (Decimal(spend) * wanted).quantize(Decimal("0.01"))
    summed = querier(url)(f"SELECT sum(spend_reporting) FROM {schema}.basic_ad")[0][0]
    total, _, unconverted = truth(tenant, rates)
    assert not unconverted and Decimal(summed) == total
    daily = querier(url)(
        f"SELECT count(*), count(reporting_currency), count(DISTINCT date) "
        f"FROM {schema}.metasync_daily_insights WHERE reporting_currency IS NULL "
        f"OR reporting_currency = '{TARGET}'"
    )[0]
    everything = querier(url)(f"SELECT count(*) FROM {schema}.metasync_daily_insights")[0][0]
    assert daily[0] == daily[1] == everything > 0  # no day left without the currency


@pytest.mark.slow
def test_setting_the_currency_then_new_rates_reach_every_past_day(
    world: Sandbox, synced_first: list[MetaConnection], sync_env: dict[str, str], tmp_path: Path
) -> None:
    tenant = synced_first[0].tenant_id
    text = ecb_text(world)
    load_rates(f"{world.url}/_sandbox/ecb/eurofxref-hist.csv")
    url = f"duckdb:///{tmp_path}/w.duckdb"
    export_tenant(tenant, url)  # thirty days exported before the tenant converts
    assert querier(url)(f"SELECT count(reporting_currency) FROM {schema_for(tenant)}.basic_ad") == [
        (0,)
    ]

    done = cli(sync_env, "currency", "--tenant", tenant, TARGET)
    assert done.returncode == 0, done.stderr
    assert "days are sent again by the next export" in done.stdout, done.stdout
    export_tenant(tenant, url)
    assert_warehouse_follows(url, tenant, parsed(text))

    # the bank "restates" USD from the tenth day on (a test of rates that change, not a
    # claim about the bank): the days from then on follow, the earlier ones stay
    tenth = sorted(DailyInsight.objects(tenant_id=tenant).distinct("date"))[9]
    shifted = rewritten(
        text,
        lambda c, d, v: (
            f"{Decimal(v) * Decimal('1.1'):.4f}" if c == "USD" and d >= tenth and v != "N/A" else v
        ),
    )
    (tmp_path / "rates.csv").write_text(shifted)
    done = cli(sync_env, "rates", "--from", str(tmp_path / "rates.csv"))
    assert done.returncode == 0, done.stderr
    assert "new or changed" in done.stdout and "sent again" in done.stdout, done.stdout
    state = CurrencyRebuild.objects(tenant_id=tenant).get()
    assert state.next_day == REBUILT and state.currency == TARGET
    assert state.days_total < DAYS  # only the days from the first changed rate on
    done = cli(sync_env, "run", "--tenant", tenant, "--to", url)
    assert done.returncode == 0, done.stderr
    assert_warehouse_follows(url, tenant, parsed(shifted))


@pytest.mark.slow
def test_a_day_without_a_rate_says_why_everywhere(
    world: Sandbox,
    synced_first: list[MetaConnection],
    sync_env: dict[str, str],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    tenant = synced_first[0].tenant_id
    days = sorted(DailyInsight.objects(tenant_id=tenant).distinct("date"))
    # no USD rate before a working day: the days before it cannot convert
    cut = next(d for d in days[12:] if date.fromisoformat(d).weekday() < 5)
    text = rewritten(ecb_text(world), lambda c, d, v: "N/A" if c == "USD" and d < cut else v)
    (tmp_path / "rates.csv").write_text(text)
    load_rates(str(tmp_path / "rates.csv"))
    set_currency(tenant, TARGET)
    url = f"duckdb:///{tmp_path}/w.duckdb"
    done = cli(sync_env, "run", "--tenant", tenant, "--to", url)
    assert done.returncode == 0, done.stderr

    _, _, unconverted = truth(tenant, parsed(text))
    assert unconverted == {d for d in days if d < cut}
    first, last = min(unconverted), max(unconverted)
    said = f"{len(unconverted)} days in USD ({first}..{last}) have no {TARGET} value"
    assert said in done.stderr and "metasync export rates --from FILE" in done.stderr

    run = ExportRun.objects(tenant_id=tenant).order_by("-started_at").first()
    assert run is not None and run.status == "succeeded"
    assert [
        (g["currency"], g["missing"], g["days"], g["first"], g["last"]) for g in run.unconverted
    ] == [("USD", "USD", len(unconverted), first, last)]

    rows = querier(url)(
        f"SELECT date, spend_reporting, reporting_note FROM {schema_for(tenant)}.basic_ad "
        f"WHERE currency = 'USD'"
    )
    for day, converted, note in rows:
        if day.isoformat() in unconverted:
            assert converted is None
            assert note is not None and f"no USD reference rate on {day}" in note, note
        else:
            assert converted is not None and note is None

    app = create_app(
        load_settings({**sync_env, "META_APP_VERIFY_TOKEN": "verify"}),
        lambda c, k: None,
        redis_client,
        connect_db=False,
    )
    _, key = create_key(tenant, "bi", by="test")
    with TestClient(app) as api:
        page = api.get(
            "/api/v1/insights",
            headers={"Authorization": f"Bearer {key}"},
            params={"level": "ad", "limit": 500, "since": first, "until": first},
        )
    assert page.status_code == 200, page.text
    usd = [r for r in page.json()["data"] if r["currency"] == "USD"]
    assert usd, page.json()
    for row in usd:
        assert row["spend_reporting"] is None and row["reporting_currency"] == TARGET
        assert f"no USD reference rate on {first}" in row["reporting_note"], row


class Interrupted(Exception):
    """Stands for a rebuild killed part way (Ctrl-C, a lost worker)."""


def test_an_interrupted_rebuild_resumes_where_it_stopped(
    world: Sandbox, synced_first: list[MetaConnection], tmp_path: Path
) -> None:
    tenant = synced_first[0].tenant_id
    load_rates(f"{world.url}/_sandbox/ecb/eurofxref-hist.csv")
    url = f"duckdb:///{tmp_path}/w.duckdb"
    export_tenant(tenant, url)
    assert set_currency(tenant, TARGET)
    total = len({d for days in rebuild.days_by_account(tenant).values() for d in days})

    def killed_after_two(done: int, _total: int) -> None:
        if done == 8:
            raise Interrupted

    with pytest.raises(Interrupted):
        rebuild.resume(tenant, days_per_batch=4, progress=killed_after_two)
    state = rebuild.pending(tenant)
    assert state is not None and state.days_done == 8
    resumed = export_tenant(tenant, url).rebuilt  # the next export resumes it first
    assert resumed.days == total - 8 and resumed.passes == 1  # from where it stopped
    assert rebuild.pending(tenant) is None
    assert_warehouse_follows(url, tenant, parsed(ecb_text(world)))


def test_a_request_during_a_rebuild_starts_it_over(
    world: Sandbox, synced_first: list[MetaConnection]
) -> None:
    tenant = synced_first[0].tenant_id
    set_currency(tenant, TARGET)
    total = len({d for days in rebuild.days_by_account(tenant).values() for d in days})

    def changed_meanwhile(done: int, _total: int) -> None:
        if done == 12 and CurrencyRebuild.objects(tenant_id=tenant).get().generation == 1:
            set_currency(tenant, "EUR")  # every day waits again

    done = rebuild.resume(tenant, days_per_batch=6, progress=changed_meanwhile)
    assert done.passes == 2 and done.days == 12 + total
    state = CurrencyRebuild.objects(tenant_id=tenant).get()
    assert state.next_day == REBUILT and state.currency == "EUR" and state.days_done == total


def test_export_rates_offline_names_the_url_and_the_local_file(mongo: str) -> None:
    url = "http://127.0.0.1:9/stats/eurofxref/eurofxref-hist.zip"  # nothing listens on 9
    with pytest.raises(RatesError) as caught:
        load_rates(url, timeout=5)
    message = str(caught.value)
    assert url in message
    assert "--from /path/to/eurofxref-hist.zip" in message
    assert "FX_RATES_URL=/path/to/eurofxref-hist.zip" in message


def test_a_converter_prepared_again_for_earlier_days_loads_them(mongo: str) -> None:
    """The export prepares a converter per batch; a later batch with earlier days (another
    account's) must not find the rates of the first batch's span only."""
    FxRate.objects.insert(
        [
            FxRate(date=f"2026-01-{d:02d}", currency="USD", per_euro=Decimal("1.10"))
            for d in range(1, 29)
        ]
    )
    converter = Converter("EUR")
    converter.prepare(["USD"], "2026-01-25", "2026-01-28")
    converter.prepare(["USD"], "2026-01-02", "2026-01-05")
    assert converter.rate("USD", "2026-01-03") == (Decimal(1) / Decimal("1.10")).quantize(
        Decimal("0.0000000001")
    )
    assert converter.reason("USD", "2026-01-03") is None
    stale = "2026-02-20"  # the last rate is more than STALE_DAYS before it
    converter.prepare(["USD"], stale, stale)
    assert converter.rate("USD", stale) is None
    assert "no USD reference rate on 2026-02-20" in (converter.reason("USD", stale) or "")
    assert "hold no JPY at all" in (converter.reason("JPY", stale) or "")


def test_setting_the_same_currency_again_after_a_rebuild_asks_for_nothing(
    synced_first: list[MetaConnection],
) -> None:
    tenant = synced_first[0].tenant_id
    assert set_currency(tenant, TARGET)
    rebuild.resume(tenant)
    assert not set_currency(tenant, TARGET)
    assert rebuild.pending(tenant) is None


def test_an_earlier_metasyncs_converting_tenants_get_their_history_once(mongo: str) -> None:
    """An earlier metasync converted only the days it exported after the currency was set."""
    TenantSettings(tenant_id="t1", reporting_currency="EUR").save()
    TenantSettings(tenant_id="t2").save()
    assert currency_history() == 1
    state = rebuild.pending("t1")
    assert state is not None and state.next_day == "0000-00-00"
    assert rebuild.pending("t2") is None
