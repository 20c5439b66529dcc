"""The connectors people use today read the stock sandbox unmodified.

Airbyte's ``source-facebook-marketing`` and singer-io's ``tap-facebook`` (PyPI, pinned, each in
its own virtual environment, see ``bench/peer_clients.py``) run against a sandbox with default
settings except Meta's "Require App Secret" app setting (neither sends ``appsecret_proof``). If
they fail here, the sandbox is not Meta, whatever metasync thinks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bench.peer_clients import (
    AIRBYTE_STREAMS,
    SINGER_STREAMS,
    run_airbyte,
    run_singer,
    score_against_truth,
)
from metasync.sandbox.server import start_sandbox
from metasync.sandbox.world import WorldSize
from tests.support.sandbox import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

SIZE = WorldSize(
    users=1,
    accounts_per_user=1,
    campaigns_per_account=3,
    adsets_per_campaign=2,
    ads_per_adset=2,
    days=6,
)


@pytest.fixture(scope="module")
def stock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    service, info = start_sandbox(
        tmp_path_factory.mktemp("peers"), seed=11, size=SIZE, require_appsecret_proof=False
    )
    yield Sandbox(service.url, info)
    service.stop()


def _read(stock: Sandbox, tmp_path: Path, peer: str) -> dict:  # type: ignore[type-arg]
    """Run ``peer`` over the last 3 days of the world; its score against the ground truth,
    after checking it read every live object and daily row, with no error."""
    truth = stock.truth()
    accounts = stock.user()["ad_account_ids"]
    last = date.fromisoformat(truth["windows"][accounts[0].removeprefix("act_")][1])
    first = last - timedelta(days=2)
    runner, streams = (
        (run_airbyte, AIRBYTE_STREAMS) if peer == "airbyte" else (run_singer, SINGER_STREAMS)
    )
    run = runner(stock.url, stock.user()["token"], accounts, first, last, tmp_path)
    assert run.ok, run.errors
    score = score_against_truth(
        run, truth, accounts, first, last, streams=streams, insights_stream="ads_insights"
    )
    for key in ("campaigns", "adsets", "ads", "adcreatives", "daily_rows"):
        assert score[key]["read"] == score[key]["expected"] > 0, (key, score[key])
        assert score[key]["unknown"] == 0, (key, score[key])
    assert score["daily_rows"]["duplicates"] == 0
    return score


def test_airbyte_reads_every_stream_without_an_error(stock: Sandbox, tmp_path: Path) -> None:
    score = _read(stock, tmp_path, "airbyte")
    # Airbyte asks insights for every effective status, so archived and deleted ads' rows come
    assert score["daily_rows"]["read_hidden"] == score["daily_rows"]["expected_hidden"] > 0
    paths = stock.control("GET", "counters")["by_path"]
    assert paths.get("POST /act_{id}/insights", 0) >= 1  # it ran async report jobs


def test_singer_reads_every_stream_and_misses_what_meta_hides(
    stock: Sandbox, tmp_path: Path
) -> None:
    score = _read(stock, tmp_path, "singer")
    # The tap sends no status filter on insights: Meta leaves archived and deleted ads' rows out
    assert score["daily_rows"]["expected_hidden"] > 0
    assert score["daily_rows"]["read_hidden"] == 0
