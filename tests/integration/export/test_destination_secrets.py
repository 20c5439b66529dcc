"""A destination's password, in each of the six URL shapes that Python's and libpq's readings
disagree on, reaches the real PostgreSQL and nothing else: not MongoDB (every document of every
collection, ids included), not the CLI's output, not the logs, not an error.

Each password belongs to a real role (``CREATE ROLE ... PASSWORD``); the local server trusts
local connections, so it is not checked, but it travels in the URL like a real one. Its two
halves are hex, which every encoding (percent, plus, repr, JSON) leaves as they are: finding
neither half anywhere means no form of the password is there."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from psycopg import sql

from metasync import db
from metasync.export import DestinationError, ExportError, export_tenant
from metasync.models import MetaConnection

SEPARATORS = {
    "hash": "#",
    "question": "?",
    "slash": "/",
    "query": "+",
    "percent": "%g",
    "at": "@",
}  # %g: a stray %


class Shape:
    """One password shape: a role with that password, and the URLs a user would write."""

    def __init__(self, name: str, server: str) -> None:
        self.name = name
        self.head, self.tail = secrets.token_hex(6), secrets.token_hex(6)
        self.password = f"{self.head}{SEPARATORS[name]}{self.tail}"
        self.role = f"ms_{name}_{secrets.token_hex(3)}"
        self.server = server  # host:port/database

    def url(self, encoded: bool, server: str | None = None) -> str:
        password = quote(self.password, safe="") if encoded else self.password
        where = server or self.server
        if self.name == "query":
            return f"postgresql://{self.role}@{where}?password={password}"
        return f"postgresql://{self.role}:{password}@{where}"

    def leaks(self, text: str) -> list[str]:
        return [half for half in (self.head, self.tail) if half in text]


@pytest.fixture
def shapes(postgres_url: str) -> Iterator[list[Shape]]:
    parts = urlsplit(postgres_url)
    server = f"{parts.hostname}:{parts.port or 5432}{parts.path}"
    made = [Shape(name, server) for name in SEPARATORS]
    database = parts.path.lstrip("/")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        for shape in made:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(shape.role), sql.Literal(shape.password)
                )
            )
            admin.execute(
                sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                    sql.Identifier(database), sql.Identifier(shape.role)
                )
            )
    yield made
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        for shape in made:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(shape.role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(shape.role)))


def _cli(args: list[str], env: dict[str, str], stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "metasync", "export", *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return f"$ {args} -> {done.returncode}\n{done.stdout}{done.stderr}"


def _every_document() -> str:
    database = db.database()
    return "\n".join(
        f"{name}: {doc!r}"
        for name in database.list_collection_names()
        for doc in database[name].find()
    )


def test_no_password_shape_leaks_anywhere(
    synced_first: list[MetaConnection],
    shapes: list[Shape],
    sync_env: dict[str, str],
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="pymongo")  # its commands: MongoDB is read below
    tenant = synced_first[0].tenant_id
    said: list[str] = []  # every error and output a person would see
    for shape in shapes:
        # as written: refused (its parses disagree) unless both read it alike (a query's)
        if shape.name == "query":
            result = export_tenant(tenant, shape.url(False), schema=f"raw_{shape.name}")
            assert result.rows["basic_ad"] > 0
            said.append(result.destination)
        else:
            with pytest.raises(DestinationError, match="percent-encode") as refused:
                export_tenant(tenant, shape.url(False))
            said.append(str(refused.value))
        # encoded: exported through the role that has the password
        result = export_tenant(tenant, shape.url(True), schema=f"enc_{shape.name}")
        assert result.rows["basic_ad"] > 0
        said.append(result.destination)
        with psycopg.connect(postgres_url) as con:
            owner = con.execute(
                "SELECT schema_owner FROM information_schema.schemata WHERE schema_name = %s",
                (f"enc_{shape.name}",),
            ).fetchone()
        assert owner == (shape.role,)  # the URL's role (and so its password) was used
        # a destination that cannot be reached: the driver's error is recorded and raised
        closed = shape.url(True, server="127.0.0.1:1/nowhere")
        with pytest.raises(ExportError) as failed:
            export_tenant(tenant, closed)
        assert "127.0.0.1" in str(failed.value)
        said.append(str(failed.value))
        # the CLI: the URL from an environment variable or standard input, then stored
        if shape.name in ("hash", "slash", "percent"):
            said.append(
                _cli(
                    ["enable", "--tenant", tenant, "--to-env", "DESTINATION"],
                    {**sync_env, "DESTINATION": shape.url(True)},
                )
            )
        else:
            said.append(
                _cli(["enable", "--tenant", tenant, "--to", "-"], sync_env, shape.url(True))
            )
        said.append(_cli(["enable", "--tenant", tenant, "--to", "-"], sync_env, shape.url(False)))
        said.append(_cli(["run", "--tenant", tenant, "--schema", f"cli_{shape.name}"], sync_env))
        assert "exported tenant" in said[-1], said[-1]
    said.append(_cli(["status", "--tenant", tenant], sync_env))
    stored = _every_document()
    assert "export_runs" in stored and "export_targets" in stored and "export_leases" in stored
    for shape in shapes:
        assert shape.leaks(stored) == [], f"{shape.name} in MongoDB"
        assert shape.leaks("\n".join(said)) == [], f"{shape.name} shown: {said}"
        assert shape.leaks(caplog.text) == [], f"{shape.name} in the log"
