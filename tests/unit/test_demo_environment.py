"""The demo's settings: its defaults reach its own sandbox, the user's settings go on top."""

from __future__ import annotations

from metasync.demo import demo_environment

SANDBOX = {
    "app_id": "100000000000001",
    "app_secret": "sandbox-app-secret",
    "base_url": "http://127.0.0.1:45651",
    "ads_api_url": "http://127.0.0.1:45651/ads-api",
    "api_version": "v27.0",
}


def _environment(base: dict[str, str]) -> dict[str, str]:
    return demo_environment(
        base, mongodb_uri="mongodb://127.0.0.1:1/demo", redis_url="redis://x", sandbox_info=SANDBOX
    )


def test_rates_come_from_the_sandbox_so_a_reporting_currency_converts_offline() -> None:
    """Before: the ECB's address, which does not answer offline and has no rate for the
    sandbox's days, so `metasync export currency --tenant T EUR` (the console's own hint)
    left every USD day without a EUR value."""
    assert _environment({})["FX_RATES_URL"] == (
        "http://127.0.0.1:45651/_sandbox/ecb/eurofxref-hist.csv"
    )


def test_the_users_rates_source_goes_on_top() -> None:
    assert _environment({"FX_RATES_URL": "/srv/rates.zip"})["FX_RATES_URL"] == "/srv/rates.zip"
