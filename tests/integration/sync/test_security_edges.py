"""Security edges: only the configured Graph host, ids that are ids, and no secret in any log."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from metasync.config import load_settings
from metasync.graph import GraphConfig, InvalidRequestError, debug_token, exchange_token, iter_pages
from metasync.graph.ids import account_number, meta_id
from metasync.logs import configure_logging
from tests.integration.sync.test_sync_cli import metasync
from tests.support.sandbox import Sandbox


def test_the_client_calls_only_the_configured_host_and_version(world: Sandbox) -> None:
    """Before: an absolute URL from a response (a report_run_id, a paging.next) was called as
    it was, token and all, whatever host it named."""
    client = world.client()
    token = world.user()["token"]
    elsewhere = [
        "http://127.0.0.2:9/v27.0/me",  # another host
        world.url.replace("127.0.0.1", "localhost") + "/v27.0/me",  # another name
        f"{world.url}/v25.0/me",  # another version of the same host
    ]
    world.control("POST", "counters")
    for url in elsewhere:
        with pytest.raises(InvalidRequestError) as raised:
            client.get(url)
        assert "refusing to send a Graph call" in raised.value.message
        assert token not in str(raised.value)
    assert world.graph_calls() == 0
    assert client.get(f"{world.graph_url}/me").body["id"] == world.user()["id"]


@pytest.mark.parametrize("bad", ["../x", "act_1/../../me", "https://evil.example/1", "1 2", ""])
def test_ids_that_go_into_paths_are_meta_ids(bad: str) -> None:
    with pytest.raises(InvalidRequestError):
        meta_id(bad)
    with pytest.raises(InvalidRequestError):
        account_number(bad)
    assert meta_id(" 123 ") == "123" and account_number("act_42") == "42"


def test_connections_add_refuses_accounts_that_are_not_ids(
    world: Sandbox, sync_env: dict[str, str]
) -> None:
    added = metasync(
        ["connections", "add", "--tenant", "t", "--token-stdin", "--accounts", "act_1,../me"],
        sync_env,
        stdin=world.user()["token"] + "\n",
    )
    assert added.returncode == 2
    assert "--accounts: ad account '../me' is not a Meta ad account id" in added.stderr


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, formatted as a handler would write it."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    configure_logging("DEBUG")
    yield captured
    root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("metasync").setLevel(logging.NOTSET)


def test_no_logger_writes_a_secret_at_debug(world: Sandbox, debug_log: io.StringIO) -> None:
    """Before: urllib3 logged each request line, query included: ``input_token=`` and the app
    token on debug_token, ``client_secret=`` and ``fb_exchange_token=`` on an exchange."""
    user, secret = world.user(), world.info["app_secret"]
    config = GraphConfig(world.graph_url, secret, max_retries=0)
    assert debug_token(config, world.info["app_id"], user["token"]).is_valid
    fresh = exchange_token(config, world.info["app_id"], user["token"])
    account = user["ad_account_ids"][0]
    pages = list(iter_pages(world.client(), f"{account}/ads", {"fields": "id"}, limit=1))
    assert len(pages) > 2  # paging.next (with access_token=) was followed
    text = debug_log.getvalue()
    assert "urllib3.connectionpool DEBUG" in text and "debug_token" in text  # it did log
    for value in (user["token"], secret, fresh.access_token):
        assert value not in text


def test_log_level_is_applied(env: dict[str, str]) -> None:
    settings = load_settings({**env, "LOG_LEVEL": "WARNING"})
    configure_logging(settings.LOG_LEVEL)
    try:
        assert logging.getLogger("metasync").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger().level == logging.WARNING
    finally:
        logging.getLogger("metasync").setLevel(logging.NOTSET)
        logging.getLogger().setLevel(logging.WARNING)
