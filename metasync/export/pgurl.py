"""PostgreSQL URLs read the way libpq reads them, and the secrets they hold.

libpq (``psycopg.conninfo.conninfo_to_dict`` calls ``PQconninfoParse``) is what connects, so its
reading is the truth; Python's :func:`urllib.parse.urlsplit` reads ``#``, ``?``, ``/`` and ``@``
in a password differently (``postgresql://u:pa#ss@h/db`` is user ``u``, password ``pa#ss`` to
libpq and host ``u``, port ``pa`` to Python). A URL is used only when both readings agree on
every field; otherwise it is refused with a message that shows none of the URL (a field may be
part of a password) and says how to percent-encode. libpq's own parse errors echo the text they
choke on (``invalid percent-encoded token: "pa%zz"``), so they are never shown either.

Secrets are the libpq options ``password`` and ``sslpassword``, from the user-info or the query.
:meth:`PgUrl.redact` removes each in the forms a message may carry it: as parsed
(percent-decoded), as written in the URL, percent-encoded (``quote``, ``quote_plus``) and
escaped (``repr``, JSON). A form not on that list (a secret split across lines, or transformed
some other way) is not caught: the guarantee assumes texts quote the secret whole.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus, unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

__all__ = ["ENCODING_HELP", "PgUrl", "UnreadableUrl", "parse_postgres"]

SECRET_OPTIONS = ("password", "sslpassword")
ENCODING_HELP = (
    "percent-encode the user name and password (% as %25, @ as %40, : as %3A, / as %2F, "
    "? as %3F, # as %23; Python: urllib.parse.quote(password, safe=''))"
)
_DIGITS = re.compile(r"^\d*$")


class UnreadableUrl(ValueError):
    """The URL cannot be used as written; the message holds no part of it."""


@dataclass(frozen=True)
class PgUrl:
    """A PostgreSQL URL as libpq reads it: ``options`` (libpq's keywords, secrets included),
    the ``label`` to show people, and the ``secrets`` to redact."""

    options: dict[str, str] = field(repr=False)
    label: str
    identity: str  # user, hosts, ports and database: what names the destination, no secret
    secrets: tuple[str, ...] = field(repr=False)

    def redact(self, text: str) -> str:
        """``text`` with every known form of every secret replaced by ``***``."""
        for form in self.secrets:
            text = text.replace(form, "***")
        return text


def parse_postgres(url: str) -> PgUrl:
    """``url`` read as libpq reads it; :class:`UnreadableUrl` when libpq refuses it or Python's
    reading of it differs."""
    try:
        libpq = {k: v for k, v in conninfo_to_dict(url).items() if v not in (None, "")}
    except (psycopg.Error, ValueError):  # ValueError: %-escapes that decode to no UTF-8
        raise UnreadableUrl(
            "PostgreSQL cannot read this destination URL (a % not followed by two hex digits "
            f"of UTF-8, or an unknown ?option=); {ENCODING_HELP}"
        ) from None
    python, raw_secrets = _python_reading(url)
    if python != {k: str(v) for k, v in libpq.items()}:
        differ = sorted(k for k in python.keys() | libpq.keys() if python.get(k) != libpq.get(k))
        raise UnreadableUrl(
            "this destination URL reads differently to PostgreSQL and to a URL parser (they "
            f"differ on {', '.join(differ)}): a password holding @, :, /, ?, # or % must be "
            f"written encoded; {ENCODING_HELP}"
        )
    options = {k: str(v) for k, v in libpq.items()}
    secrets = [options[k] for k in SECRET_OPTIONS if k in options] + raw_secrets
    return PgUrl(options, _label(url, options), _identity(options), _forms(secrets))


def _python_reading(url: str) -> tuple[dict[str, str], list[str]]:
    """The fields Python's URL parser sees (libpq's keywords), and the secrets as written."""
    parts = urlsplit(url)
    if parts.fragment or "#" in url:
        raise UnreadableUrl(f"a PostgreSQL URL has no #fragment; {ENCODING_HELP}")
    userinfo, at, hostport = parts.netloc.rpartition("@")
    fields: dict[str, str] = {}
    raw: list[str] = []
    if at:
        user, colon, password = userinfo.partition(":")
        fields["user"] = unquote(user)
        if colon:
            fields["password"] = unquote(password)
            raw.append(password)
    hosts, ports = [], []
    for one in hostport.split(","):
        if one.startswith("["):
            host, _, rest = one[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = one.partition(":")
        if not _DIGITS.match(port):
            raise UnreadableUrl(f"the destination URL's port is not a number; {ENCODING_HELP}")
        hosts.append(unquote(host))
        ports.append(port)
    fields["host"] = ",".join(hosts)
    if any(ports):
        fields["port"] = ",".join(ports)
    fields["dbname"] = unquote(parts.path.removeprefix("/"))
    for pair in parts.query.split("&") if parts.query else ():
        key, _, value = pair.partition("=")
        fields[unquote(key)] = unquote(value)
        if unquote(key) in SECRET_OPTIONS:
            raw.append(value)
    return {k: v for k, v in fields.items() if v}, raw


def _label(url: str, options: dict[str, str]) -> str:
    scheme = url.partition(":")[0].lower()
    user = quote(options.get("user", ""), safe="")
    hidden = ":***" if "password" in options else ""
    at = "@" if user or hidden else ""
    hosts = options.get("host", "").split(",")
    ports = options.get("port", "").split(",")
    ports += [ports[-1]] * (len(hosts) - len(ports))  # libpq: one port serves every host
    where = ",".join(
        f"{_host(h)}:{p}" if p else _host(h) for h, p in zip(hosts, ports, strict=False)
    )
    return f"{scheme}://{user}{hidden}{at}{where}/{quote(options.get('dbname', ''), safe='')}"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else quote(host, safe="")


def _identity(options: dict[str, str]) -> str:
    return json.dumps([options.get(k, "") for k in ("user", "host", "port", "dbname")])


def _forms(secrets: list[str]) -> tuple[str, ...]:
    """Every form of every secret a text may quote, longest first (a form inside another is
    replaced after it)."""
    forms = set()
    for secret in secrets:
        for form in (
            secret,
            unquote(secret),
            quote(secret, safe=""),
            quote(secret),
            quote_plus(secret),
            repr(secret)[1:-1],
            json.dumps(secret)[1:-1],
            secret.replace("\\", "\\\\").replace("'", "\\'"),  # as in a key=value conninfo
        ):
            if form:
                forms.add(form)
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))
