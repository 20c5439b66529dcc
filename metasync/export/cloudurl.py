"""The URLs of the cloud warehouses, read without their drivers (so reading one imports none):

- ``snowflake://<account>/<database>?user=<user>&secret=<file>`` (and optionally
  ``warehouse``, ``role``, ``host``, ``port``, ``protocol``);
- ``bigquery://<project>/<location>`` (and optionally ``secret``, ``endpoint``).

Such a URL holds no secret: ``secret`` names a file in ``WAREHOUSE_SECRETS_DIR``
(:mod:`metasync.export.credentials`). A user, password or port before the path, a user or
password in ``endpoint=``, or any option not listed, is refused with a message that quotes none
of the URL's values nor unknown option names (they could be a password put in the wrong
place); the label is built from the fields read (:attr:`CloudUrl.label`), never the raw URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["CloudUrl", "read_cloud_url"]

OPTIONS = {
    "snowflake": ("user", "secret", "warehouse", "role", "host", "port", "protocol"),
    "bigquery": ("secret", "endpoint"),
}
NEEDED: dict[str, tuple[str, ...]] = {"snowflake": ("user", "secret"), "bigquery": ()}
FORM = {
    "snowflake": "snowflake://<account>/<database>?user=<user>&secret=<file>",
    "bigquery": "bigquery://<project>/<location>[?secret=<file>][&endpoint=<url>]",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class CloudUrl:
    """A cloud warehouse's URL read: the ``host`` part (an account, a project), the ``path``
    part (a database, a location) and the options; ``identity`` names the destination in
    records (host, path, user and endpoint: what decides where rows land)."""

    scheme: str
    url: str
    host: str
    path: str
    options: dict[str, str]

    @property
    def label(self) -> str:
        """The URL as read, options in one order: no text metasync did not check."""
        options = [(n, self.options[n]) for n in OPTIONS[self.scheme] if n in self.options]
        query = f"?{urlencode(options, safe=':/')}" if options else ""
        return f"{self.scheme}://{self.host}/{self.path}{query}"

    @property
    def identity(self) -> str:
        where = self.options.get("host") or self.options.get("endpoint") or ""
        return f"{self.host}/{self.path}/{self.options.get('user', '')}/{where}"


def read_cloud_url(scheme: str, url: str) -> CloudUrl:
    """``url`` of ``scheme`` read; ``ValueError`` naming the problem otherwise."""
    form = FORM[scheme]
    parts = urlsplit(url.strip())
    if "@" in parts.netloc or ":" in parts.netloc:  # a user, a password, or one as a "port"
        raise ValueError(
            f"a {scheme}:// URL holds no user, password or port before the path: use {form} "
            "(the secret is a file in WAREHOUSE_SECRETS_DIR)"
        )
    query: dict[str, str] = {}
    for name, values in parse_qs(parts.query, keep_blank_values=True).items():
        if name not in OPTIONS[scheme]:  # not quoted: a password may stand where a name does
            raise ValueError(
                f"{scheme}:// takes only the options {', '.join(OPTIONS[scheme])}; "
                "a secret goes in the file named by secret="
            )
        query[name] = values[-1]
    host, path = parts.hostname or "", parts.path.strip("/")
    if not _NAME.match(host) or not _NAME.match(path):
        raise ValueError(f"a {scheme}:// URL is {form}")
    for name in NEEDED[scheme]:
        if not query.get(name):
            raise ValueError(f"{scheme}://{host}/{path} names no {name}=: it is {form}")
    if query.get("port") and not query["port"].isdigit():
        raise ValueError(f"{scheme}://{host}/{path}: port= is not a number")
    if query.get("host") and not _NAME.match(query["host"]):
        raise ValueError(f"{scheme}://{host}/{path}: host= is not a host name (no user or port)")
    endpoint = urlsplit(query.get("endpoint", ""))
    if query.get("endpoint") and endpoint.scheme not in ("http", "https"):
        raise ValueError(f"{scheme}://{host}/{path}: endpoint= is not an http(s) URL")
    if "@" in endpoint.netloc:
        raise ValueError(
            f"{scheme}://{host}/{path}: endpoint= holds no user or password "
            "(the secret is a file in WAREHOUSE_SECRETS_DIR)"
        )
    return CloudUrl(scheme, url.strip(), host, path, query)
