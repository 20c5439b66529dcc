"""Alert delivery verifies whom it talks to, and names travel as data.

Local receivers only: SMTP servers (aiosmtpd) with STARTTLS, with implicit TLS and without TLS,
and webhook receivers over https and http, their certificates signed by a CA made for the test
(:mod:`tests.integration.alerts.tls`), which no default store trusts."""

from __future__ import annotations

import email
import json
import logging
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from metasync.alerts import check_alerts
from metasync.config import Settings, load_settings
from metasync.embedded import free_port
from metasync.health.records import refresh_health
from metasync.models import AccountSyncState, AdAccount, MetaConnection, OptimizerSettings

from .tls import LocalCA, make_local_ca

PASSWORD = "s3cret-pw"


class MailServer:
    """What an SMTP server received: messages, and every AUTH attempt (login, password)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[tuple[str, str]] = []
        self.port = free_port()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)


class Hook:
    """A webhook receiver: the texts posted to it; answers 200, or ``redirect`` with a 307."""

    def __init__(self, tls: ssl.SSLContext | None = None, redirect: str | None = None) -> None:
        self.texts: list[str] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if redirect is not None:
                    self.send_response(307)
                    self.send_header("Location", redirect)
                    self.end_headers()
                    return
                hook.texts.append(json.loads(body)["text"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None: ...

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:  # the handshake runs at accept; a client that refuses it is dropped
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_ca(tmp_path: Path) -> LocalCA:
    return make_local_ca(tmp_path)


@pytest.fixture
def mail_server() -> Iterator[Callable[..., MailServer]]:
    """Starts SMTP servers on 127.0.0.1 (``Controller`` arguments as given); stops them after."""
    started: list[Controller] = []

    def start(**options: Any) -> MailServer:
        server = MailServer()
        controller = Controller(
            server,
            hostname="127.0.0.1",
            port=server.port,
            authenticator=server.authenticate,
            **options,
        )
        controller.start()
        started.append(controller)
        return server

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def hook() -> Iterator[Callable[..., Hook]]:
    started: list[Hook] = []

    def start(**options: Any) -> Hook:
        started.append(Hook(**options))
        return started[-1]

    yield start
    for one in started:
        one.close()


def _a_problem() -> None:
    OptimizerSettings(tenant_id="acme", mode="recommend", evaluation_error="bad rule").save()


def _mail_settings(env: dict[str, str], url: str, **more: str) -> Settings:
    return load_settings(
        {**env, "ALERT_SMTP_URL": url, "ALERT_EMAIL_TO": "ops@example.test", **more}
    )


# -- SMTP: certificates verified, no password in clear -------------------------------------


def test_starttls_to_a_certificate_no_one_trusts_is_refused_until_its_ca_is_given(
    env: dict[str, str], mongo: str, local_ca: LocalCA, mail_server: Callable[..., MailServer]
) -> None:
    server = mail_server(tls_context=local_ca.server_context())  # offers STARTTLS
    url = f"smtp://alerts:{PASSWORD}@127.0.0.1:{server.port}"
    _a_problem()

    refused = check_alerts(_mail_settings(env, url))
    assert len(refused.errors) == 1
    assert refused.errors[0].startswith(
        f"email: CertificateNotTrusted: the certificate of the SMTP server 127.0.0.1:{server.port}"
        " does not verify (unable to get local issuer certificate): give its CA in "
        "ALERT_SMTP_CA_FILE"
    )
    assert server.logins == [] and server.messages == [], "the impostor got neither"
    assert PASSWORD not in refused.errors[0]

    sent = check_alerts(_mail_settings(env, url, ALERT_SMTP_CA_FILE=str(local_ca.ca_file)))
    assert sent.errors == []
    assert server.logins == [("alerts", PASSWORD)], "the login went over the verified TLS"
    assert len(server.messages) == 1 and b"bad rule" in server.messages[0].content


def test_smtps_to_a_certificate_no_one_trusts_is_refused_until_its_ca_is_given(
    env: dict[str, str], mongo: str, local_ca: LocalCA, mail_server: Callable[..., MailServer]
) -> None:
    # implicit TLS: aiosmtpd does not see it as TLS, so it is told to offer AUTH anyway
    server = mail_server(ssl_context=local_ca.server_context(), auth_require_tls=False)
    url = f"smtps://alerts:{PASSWORD}@127.0.0.1:{server.port}"
    _a_problem()

    refused = check_alerts(_mail_settings(env, url))
    assert refused.errors and refused.errors[0].startswith("email: CertificateNotTrusted: ")
    assert server.logins == [] and server.messages == []

    sent = check_alerts(_mail_settings(env, url, ALERT_SMTP_CA_FILE=str(local_ca.ca_file)))
    assert sent.errors == [] and server.logins == [("alerts", PASSWORD)]
    assert len(server.messages) == 1


def test_a_server_without_starttls_gets_no_password_unless_a_setting_says_so(
    env: dict[str, str], mongo: str, mail_server: Callable[..., MailServer]
) -> None:
    server = mail_server(auth_require_tls=False)  # offers AUTH in clear, no STARTTLS
    url = f"smtp://alerts:{PASSWORD}@127.0.0.1:{server.port}"
    _a_problem()

    refused = check_alerts(_mail_settings(env, url))
    assert refused.errors == [
        f"email: PlaintextLoginRefused: the SMTP server 127.0.0.1:{server.port} offers no "
        "STARTTLS, so the login would send the password in clear; use smtps:// or a server "
        "with STARTTLS, or set ALERT_SMTP_ALLOW_PLAINTEXT_LOGIN=true for a trusted network"
    ]
    assert server.logins == [], "no AUTH reached the server"
    assert server.messages == []

    said = _mail_settings(env, url, ALERT_SMTP_ALLOW_PLAINTEXT_LOGIN="true")
    assert check_alerts(said).errors == []
    assert server.logins == [("alerts", PASSWORD)] and len(server.messages) == 1


# -- webhook: https verified, no redirect, no secret in a failure -------------------------


def test_an_https_webhook_no_one_trusts_is_refused_until_its_ca_is_given(
    env: dict[str, str], mongo: str, local_ca: LocalCA, hook: Callable[..., Hook]
) -> None:
    receiver = hook(tls=local_ca.server_context())
    _a_problem()

    refused = check_alerts(load_settings({**env, "ALERT_WEBHOOK_URL": receiver.url}))
    assert refused.errors == [
        "webhook: CertificateNotTrusted: the certificate of the alert webhook does not verify "
        "(unable to get local issuer certificate): give its CA in ALERT_WEBHOOK_CA_FILE, or use "
        "a certificate the default store trusts"
    ]
    assert receiver.texts == []

    trusted = load_settings(
        {**env, "ALERT_WEBHOOK_URL": receiver.url, "ALERT_WEBHOOK_CA_FILE": str(local_ca.ca_file)}
    )
    assert check_alerts(trusted).errors == []
    assert len(receiver.texts) == 1 and "bad rule" in receiver.texts[0]


def test_a_webhook_redirect_is_not_followed(
    env: dict[str, str], mongo: str, local_ca: LocalCA, hook: Callable[..., Hook]
) -> None:
    elsewhere = hook()  # plain http: where a redirect would carry the alert
    receiver = hook(tls=local_ca.server_context(), redirect=elsewhere.url)
    _a_problem()
    settings = load_settings(
        {**env, "ALERT_WEBHOOK_URL": receiver.url, "ALERT_WEBHOOK_CA_FILE": str(local_ca.ca_file)}
    )
    assert check_alerts(settings).errors == [
        "webhook: DeliveryError: the alert webhook answered 307"
    ]
    assert elsewhere.texts == []


def test_a_webhook_failure_shows_no_part_of_its_secret_url(
    env: dict[str, str], mongo: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T0/B0/secret-token-xyz?key=q-secret"
    _a_problem()
    failed = check_alerts(load_settings({**env, "ALERT_WEBHOOK_URL": url}))
    assert len(failed.errors) == 1 and failed.errors[0].startswith("webhook: ConnectionError: ")
    assert "[hidden]" in failed.errors[0], "the failure still says where it went wrong"
    for shown in (failed.errors[0], caplog.text):
        assert "secret-token-xyz" not in shown and "q-secret" not in shown


def test_no_log_record_shows_the_webhook_path_or_the_smtp_password_at_debug(
    env: dict[str, str],
    mongo: str,
    hook: Callable[..., Hook],
    mail_server: Callable[..., MailServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before: urllib3 logged ``"POST /services/T0/B0/hooksecretxyz HTTP/1.1" 200`` at DEBUG."""
    caplog.set_level(logging.DEBUG)
    receiver, server = hook(), mail_server(auth_require_tls=False)
    url = receiver.url.replace("/hook", "/hooksecretxyz") + "?key=q-secret"
    _a_problem()
    settings = load_settings(
        {
            **env,
            "ALERT_WEBHOOK_URL": url,
            "ALERT_SMTP_URL": f"smtp://alerts:{PASSWORD}@127.0.0.1:{server.port}",
            "ALERT_EMAIL_TO": "ops@example.test",
            "ALERT_SMTP_ALLOW_PLAINTEXT_LOGIN": "true",
        }
    )
    assert check_alerts(settings).errors == []
    assert len(receiver.texts) == 1 and server.logins == [("alerts", PASSWORD)]
    logging.getLogger("metasync.test").debug("a later record naming %s", PASSWORD)
    messages = [r.getMessage() for r in caplog.records]
    assert any("POST " in m and "HTTP/1.1" in m for m in messages), "urllib3 did log the post"
    for message in messages:
        assert "hooksecretxyz" not in message and "q-secret" not in message, message
        assert PASSWORD not in message, message


# -- names are data ------------------------------------------------------------------------

NAMES = {
    "101": "<!channel>",
    "102": "<https://evil.example|console link>",
    "103": "Fish & Chips <@U123>\nRESOLVED: every account is fine",
    "104": "Zero\u200bWidth\u2028RESOLVED: all fine\u2029RESOLVED: @channel @all",
    "105": "[console](https://evil.example/x) ![](https://evil.example/pixel) ops@example.test",
}


def test_names_from_meta_and_users_arrive_as_text(
    env: dict[str, str],
    mongo: str,
    hook: Callable[..., Hook],
    mail_server: Callable[..., MailServer],
) -> None:
    receiver, server = hook(), mail_server()
    connection = MetaConnection(
        tenant_id="acme", meta_user_id="1", ad_account_ids=list(NAMES)
    ).save()
    for account, name in NAMES.items():
        AdAccount(tenant_id="acme", meta_id=f"act_{account}", account_id=account, name=name).save()
        AccountSyncState(
            connection_id=str(connection.pk),
            account_id=account,
            tenant_id="acme",
            last_outcome="failed",
        ).save()
    OptimizerSettings(
        tenant_id="acme", mode="recommend", evaluation_error="<!here> rule 3 is <b>bad</b>"
    ).save()
    refresh_health("acme")
    settings = load_settings(
        {
            **env,
            "ALERT_WEBHOOK_URL": receiver.url,
            "ALERT_SMTP_URL": f"smtp://127.0.0.1:{server.port}",
            "ALERT_EMAIL_TO": "ops@example.test",
            "CONSOLE_ORIGIN": "https://ops.example.test",
        }
    )

    assert check_alerts(settings).errors == []
    [text] = receiver.texts
    for escaped in (
        "(&lt;!channel&gt;)",
        "(&lt;https://evil.example|console link&gt;)",
        "(Fish &amp; Chips &lt;@\u200bU123&gt; RESOLVED: every account is fine)",
        "&lt;!here&gt; rule 3 is &lt;b&gt;bad&lt;/b&gt;",
        "(ZeroWidth RESOLVED: all fine RESOLVED: @\u200bchannel @\u200ball)",
        "([console]\u200b(https://evil.example/x) ![]\u200b(https://evil.example/pixel) "
        "ops@example.test)",
    ):
        assert escaped in text
    assert re.findall(r"(?<!\w)@(?!\u200b)|\]\(", text) == [], "no mention, no Markdown link"
    assert text.count("<") == 1 and text.count(">") == 1, "one link, metasync's own"
    assert "<https://ops.example.test/console|open the console>" in text
    assert re.findall(r"&(?!amp;|lt;|gt;)", text) == []
    assert not any(line.startswith("RESOLVED") for line in text.splitlines())

    [envelope] = server.messages
    mail = email.message_from_bytes(envelope.content, policy=default_policy)
    assert mail["Subject"] == "metasync: 6 new problem(s), 0 resolved"
    for header, value in mail.items():
        assert not any(mark in value for mark in ("<!", "evil", "Fish", "U123")), header
    body = mail.get_content()
    assert "(<!channel>)" in body and "(<https://evil.example|console link>)" in body
    assert not any(line.startswith("RESOLVED") for line in body.splitlines())
