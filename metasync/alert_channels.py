"""Where the built-in notifier's messages go (:mod:`metasync.alerts`): a Slack-compatible
webhook and SMTP mail, each verifying whom it talks to and each treating names as data.

Errors::

    DeliveryError               a channel refused to deliver; the message names no secret
    ├── CertificateNotTrusted   the server's certificate did not verify against the trusted CAs
    └── PlaintextLoginRefused   the SMTP server offers no TLS and the URL holds a password

- **Webhook** (``ALERT_WEBHOOK_URL``): https, its certificate and host name verified against
  requests' CA bundle or ``ALERT_WEBHOOK_CA_FILE``. Redirects are not followed (one could lead
  to http or to another host); a 3xx counts as a failure. Settings refuse any other scheme, and
  http to a host that is not loopback unless ``ALERT_WEBHOOK_ALLOW_PLAINTEXT_HTTP``. A failure
  is reported without the URL's path and query, where a Slack webhook keeps its secret, and
  no log record of the process shows them (nor the SMTP URL's password): both are registered
  with :func:`metasync.logs.hide_in_logs` before a delivery, since urllib3 logs each request
  line, path and query included, at ``DEBUG``.
- **Mail** (``ALERT_SMTP_URL``): ``smtps://`` and STARTTLS verify the certificate and the host
  name against the system's store or ``ALERT_SMTP_CA_FILE``. On ``smtp://`` STARTTLS is used
  whenever the server offers it, and its failure is a failure (never a fall-back to clear
  text). A server that offers no STARTTLS gets no password: with credentials in the URL the
  delivery is refused (:class:`PlaintextLoginRefused`) unless
  ``ALERT_SMTP_ALLOW_PLAINTEXT_LOGIN``. Without credentials the mail goes in clear, for a relay
  on a trusted network (the host's own MTA); this assumes that whoever can strip STARTTLS on
  that path may read alerts (ids, names and problems; no secret is in them).
- **Names are data**: the lines carry what Meta and users wrote (account and connection names,
  tenant ids, error texts). Every value is made one line: line and paragraph separators and
  control characters (Unicode categories Zl, Zp, Cc) become spaces, and format characters (Cf:
  zero-width characters, bidirectional overrides, which can make a line read as something else)
  are dropped (an emoji joined with a zero-width joiner then shows as its parts). In the
  webhook's text each value is escaped for Slack (``&``, ``<``, ``>``), so ``<!channel>``,
  ``<@U123>`` or ``<https://x|label>`` arrive as text, and made inert for receivers that read
  Markdown (Mattermost, Rocket.Chat): a word-initial ``@`` gets a zero-width space after it (no
  ``@channel``, ``@all``, ``@here`` or ``@user`` mention), and so does a ``]`` followed by ``(``
  (no ``[label](https://x)`` or image link: the address shows as text). Both zero-width spaces
  are metasync's own, added after the value's own format characters were dropped, and are
  invisible in Slack. Other Markdown (emphasis, code) still renders; it cannot notify or link.
  The only link is the one metasync builds to the console (``CONSOLE_ORIGIN``). A mail's
  subject is fixed words and counts; names are only in its text/plain body.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import unicodedata
from collections.abc import Iterable
from email.message import EmailMessage
from urllib.parse import quote, unquote, urlsplit

import requests

from metasync.config import Settings
from metasync.logs import hide_in_logs

__all__ = [
    "MAX_LINES",
    "CertificateNotTrusted",
    "DeliveryError",
    "PlaintextLoginRefused",
    "deliver",
    "markdown_inert",
    "slack_escape",
]

MAX_LINES = 50
TIMEOUT_SECONDS = 10
_LINE_BREAKING = {"Zl", "Zp", "Cc"}  # line and paragraph separators, control characters
_ZERO_WIDTH_SPACE = "\u200b"
# a mention (``@`` starting a word) and a Markdown link (``](``) in a receiver that reads Markdown
_MARKDOWN_ACTIVE = re.compile(r"(?:(?<!\w)@|\]\()")


class DeliveryError(Exception):
    """An alert channel refused to deliver. The message says why and what to set; no secret."""


class CertificateNotTrusted(DeliveryError):
    """The server's certificate did not verify (``reason`` is OpenSSL's, e.g. "self-signed
    certificate")."""

    def __init__(self, server: str, reason: str, setting: str) -> None:
        self.reason = reason
        super().__init__(
            f"the certificate of {server} does not verify ({reason}): give its CA in {setting}, "
            "or use a certificate the default store trusts"
        )


class PlaintextLoginRefused(DeliveryError):
    """The URL holds SMTP credentials and the connection is not encrypted."""


def slack_escape(text: str) -> str:
    """``text`` as Slack shows it literally: its three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_inert(text: str) -> str:
    """``text`` with a zero-width space after each word-initial ``@`` and inside each ``](``, so
    a Markdown receiver neither notifies a mention nor builds a link from it."""
    return _MARKDOWN_ACTIVE.sub(lambda m: m[0][0] + _ZERO_WIDTH_SPACE + m[0][1:], text)


def _one_line(text: str) -> str:
    """A value from outside as one line: line and paragraph separators and control characters
    become spaces; format characters (zero-width, bidirectional overrides) are dropped."""
    kept = []
    for c in text:
        category = unicodedata.category(c)
        if category in _LINE_BREAKING:
            kept.append(" ")
        elif category != "Cf":
            kept.append(c)
    return "".join(kept)


def _lines(opened: list[str], cleared: list[str]) -> list[str]:
    lines = [f"PROBLEM: {_one_line(s)}" for s in opened]
    lines += [f"RESOLVED: {_one_line(s)}" for s in cleared]
    more = len(lines) - MAX_LINES
    return [*lines[:MAX_LINES], *([f"... and {more} more"] if more > 0 else [])]


def _head(opened: list[str], cleared: list[str]) -> str:
    """Fixed words and counts only: this is the mail's subject."""
    return f"metasync: {len(opened)} new problem(s), {len(cleared)} resolved"


def _console_url(settings: Settings) -> str | None:
    if settings.CONSOLE_ORIGIN is None:
        return None
    return quote(f"{settings.CONSOLE_ORIGIN}/console", safe=":/[]")  # no "|" or ">" survives


def _slack_text(settings: Settings, opened: list[str], cleared: list[str]) -> str:
    head = _head(opened, cleared)
    console = _console_url(settings)
    if console is not None:
        head += f" - <{slack_escape(console)}|open the console>"
    lines = (markdown_inert(slack_escape(line)) for line in _lines(opened, cleared))
    return "\n".join([head, *lines])


def _verify_reason(exc: BaseException) -> str | None:
    """OpenSSL's reason when a certificate did not verify somewhere in ``exc``'s chain (requests
    wraps urllib3's error, which wraps ssl's), else None."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return str(current.verify_message or current.reason or "not verified")
        todo += [
            *current.args,
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
        ]
    return None


def _send_webhook(settings: Settings, text: str) -> None:
    assert settings.ALERT_WEBHOOK_URL is not None
    try:
        answer = requests.post(
            settings.ALERT_WEBHOOK_URL.get_secret_value(),
            json={"text": text},
            timeout=TIMEOUT_SECONDS,
            verify=settings.ALERT_WEBHOOK_CA_FILE or True,
            allow_redirects=False,
        )
    except requests.exceptions.SSLError as exc:
        reason = _verify_reason(exc)
        if reason is None:
            raise
        raise CertificateNotTrusted("the alert webhook", reason, "ALERT_WEBHOOK_CA_FILE") from None
    if answer.status_code >= 300:
        raise DeliveryError(f"the alert webhook answered {answer.status_code}")


def _send_email(settings: Settings, subject: str, body: str) -> None:
    assert settings.ALERT_SMTP_URL is not None
    url = urlsplit(settings.ALERT_SMTP_URL.get_secret_value())
    implicit_tls = url.scheme == "smtps"
    host, port = url.hostname or "localhost", url.port or (465 if implicit_tls else 25)
    message = EmailMessage()
    message["Subject"], message["From"] = subject, settings.ALERT_EMAIL_FROM
    message["To"] = ", ".join(settings.ALERT_EMAIL_TO)
    message.set_content(body)
    context = ssl.create_default_context(cafile=settings.ALERT_SMTP_CA_FILE)
    try:
        server = (
            smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS, context=context)
            if implicit_tls
            else smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
        )
        with server:
            server.ehlo()
            encrypted = implicit_tls
            if not encrypted and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
                encrypted = True
            if url.username:
                if not encrypted and not settings.ALERT_SMTP_ALLOW_PLAINTEXT_LOGIN:
                    raise PlaintextLoginRefused(
                        f"the SMTP server {host}:{port} offers no STARTTLS, so the login would "
                        "send the password in clear; use smtps:// or a server with STARTTLS, or "
                        "set ALERT_SMTP_ALLOW_PLAINTEXT_LOGIN=true for a trusted network"
                    )
                server.login(unquote(url.username), unquote(url.password or ""))
            server.send_message(message)
    except ssl.SSLCertVerificationError as exc:
        reason = str(exc.verify_message or exc.reason or "not verified")
        raise CertificateNotTrusted(
            f"the SMTP server {host}:{port}", reason, "ALERT_SMTP_CA_FILE"
        ) from None


def _failure(channel: str, exc: Exception, hide: Iterable[str]) -> str:
    text = str(exc)
    for secret in sorted(filter(None, hide), key=len, reverse=True):
        text = text.replace(secret, "[hidden]")
    return f"{channel}: {type(exc).__name__}: {text[:300]}"


def _secrets_of(url: str) -> list[str]:
    """The parts of ``url`` a failure's text must not show: userinfo, path and query."""
    parts = urlsplit(url)
    path = parts.path if parts.path not in ("", "/") else ""
    query = f"?{parts.query}" if parts.query else ""
    found = [url, f"{path}{query}", path, parts.query, parts.password or ""]
    return found + [unquote(s) for s in found]


def deliver(settings: Settings, opened: list[str], cleared: list[str]) -> list[str]:
    """Send what opened and cleared on every configured channel; returns what failed, one line
    per channel (names no secret)."""
    errors = []
    for url in (settings.ALERT_WEBHOOK_URL, settings.ALERT_SMTP_URL):
        if url is not None:  # urllib3 logs the request line (the webhook's path) at DEBUG
            hide_in_logs(_secrets_of(url.get_secret_value()))
    if settings.ALERT_WEBHOOK_URL is not None:
        try:
            _send_webhook(settings, _slack_text(settings, opened, cleared))
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the state kept
            hide = _secrets_of(settings.ALERT_WEBHOOK_URL.get_secret_value())
            errors.append(_failure("webhook", exc, hide))
    if settings.ALERT_SMTP_URL is not None and settings.ALERT_EMAIL_TO:
        subject, console = _head(opened, cleared), _console_url(settings)
        body = [
            subject,
            *_lines(opened, cleared),
            *([f"\nThe console: {console}"] if console else []),
        ]
        try:
            _send_email(settings, subject, "\n".join(body))
        except Exception as exc:  # noqa: BLE001
            hide = _secrets_of(settings.ALERT_SMTP_URL.get_secret_value())
            errors.append(_failure("email", exc, hide))
    return errors
