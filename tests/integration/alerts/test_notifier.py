"""The built-in notifier against local receivers: a Slack-compatible webhook (an HTTP server)
and an SMTP server (aiosmtpd). One message per new problem, one when it clears, no repeats, and
a delivery that failed is sent with the next check."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from metasync.alerts import check_alerts
from metasync.config import load_settings
from metasync.embedded import free_port
from metasync.health.records import refresh_health
from metasync.models import AccountSyncState, AlertState, MetaConnection, OptimizerSettings

FAILING = (
    "ad account 101 (unnamed) of tenant acme is failing: its last run failed (no error "
    "recorded). To do: read the account's recent runs on its console page, then press Sync now"
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def hooks() -> Iterator[tuple[str, list[str]]]:
    received: list[str] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body)["text"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None: ...

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def inbox() -> Iterator[tuple[int, Inbox]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler
    controller.stop()


def test_each_problem_is_told_once_and_its_clearing_once(
    env: dict[str, str], mongo: str, hooks: tuple[str, list[str]], inbox: tuple[int, Inbox]
) -> None:
    url, received = hooks
    port, mail = inbox
    settings = load_settings({**env, "ALERT_WEBHOOK_URL": url,
                              "ALERT_SMTP_URL": f"smtp://127.0.0.1:{port}",
                              "ALERT_EMAIL_TO": "ops@example.test"})  # fmt: skip
    connection = MetaConnection(
        tenant_id="acme", meta_user_id="1", ad_account_ids=["101", "102"]
    ).save()
    for account, outcome in (("101", "failed"), ("102", "succeeded")):
        AccountSyncState(connection_id=str(connection.pk), account_id=account, tenant_id="acme",
                         last_outcome=outcome).save()  # fmt: skip
    OptimizerSettings(tenant_id="acme", mode="recommend", evaluation_error="bad rule").save()
    refresh_health("acme")

    first = check_alerts(settings)
    assert sorted(first.opened) == [FAILING,
                                    "the optimizer of tenant acme cannot evaluate its rules: "
                                    "bad rule"]  # fmt: skip
    assert len(received) == 1 and "PROBLEM: ad account 101" in received[0]
    assert len(mail.messages) == 1 and mail.messages[0].rcpt_tos == ["ops@example.test"]
    assert b"PROBLEM: ad account 101" in mail.messages[0].content
    for _ in range(3):
        assert check_alerts(settings).opened == []
    assert len(received) == 1 and len(mail.messages) == 1, "no repeats while it lasts"

    AccountSyncState.objects(account_id="101").update(set__last_outcome="succeeded")
    refresh_health("acme")
    cleared = check_alerts(settings)
    assert cleared.cleared == [FAILING]
    assert len(received) == 2 and received[1].count("RESOLVED") == 1
    assert "PROBLEM" not in received[1]
    assert check_alerts(settings).cleared == [] and len(received) == 2


def test_a_failed_delivery_is_sent_with_the_next_check(
    env: dict[str, str], mongo: str, hooks: tuple[str, list[str]]
) -> None:
    url, received = hooks
    down = load_settings({**env, "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook"})
    OptimizerSettings(tenant_id="acme", mode="recommend", evaluation_error="bad rule").save()
    failed = check_alerts(down)
    assert failed.errors and failed.errors[0].startswith("webhook: ConnectionError")
    assert AlertState.objects.get(key="optimizer:acme").announced is False
    sent = check_alerts(load_settings({**env, "ALERT_WEBHOOK_URL": url}))
    assert sent.errors == [] and len(received) == 1 and "bad rule" in received[0]
    assert AlertState.objects.get(key="optimizer:acme").announced is True
