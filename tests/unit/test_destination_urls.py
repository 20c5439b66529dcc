"""Destination URLs read as libpq reads them: the six shapes of password that Python's URL
parser reads differently are refused without showing any of it, or read right when encoded;
labels, keys and redaction never carry the password; tenant schemas never meet."""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import pytest

from metasync.export.destinations import DestinationError, parse, schema_for
from metasync.export.sql import quote as quote_identifier

HEAD, TAIL = "h3ad7c0ffee", "t4il9d00d1e"  # the password's halves: hex survives every encoding
SHAPES = {  # shape: (the password, the URL as a user writes it)
    "hash": (f"{HEAD}#{TAIL}", "postgresql://u:{raw}@db.example:5432/w"),
    "question": (f"{HEAD}?{TAIL}", "postgresql://u:{raw}@db.example:5432/w"),
    "slash": (f"{HEAD}/{TAIL}", "postgresql://u:{raw}@db.example:5432/w"),
    "query": (f"{HEAD}+{TAIL}", "postgresql://u@db.example:5432/w?password={raw}"),
    "percent": (f"{HEAD}%{TAIL}", "postgresql://u:{raw}@db.example:5432/w"),
    "at": (f"{HEAD}@{TAIL}", "postgresql://u:{raw}@db.example:5432/w"),
}


def _leaks(text: str) -> bool:
    return HEAD in text or TAIL in text


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_password_shape_is_refused_unread_or_read_as_libpq_does(shape: str) -> None:
    password, template = SHAPES[shape]
    written = template.format(raw=password)
    if shape == "query":  # both parsers read a query's password alike (+ is not a space)
        read = parse(written)
        assert read.postgres is not None and read.postgres.options["password"] == password
        assert not _leaks(read.label) and not _leaks(read.key)
    else:
        with pytest.raises(DestinationError, match="percent-encode") as refused:
            parse(written)
        assert not _leaks(str(refused.value))
    encoded = parse(template.format(raw=quote(password, safe="")))
    assert encoded.postgres is not None and encoded.postgres.options["password"] == password
    assert encoded.label == "postgresql://u:***@db.example:5432/w"
    assert not _leaks(encoded.label) and not _leaks(encoded.key)
    text = f"failed: {password} {quote(password, safe='')} {quote_plus(password)} {password!r}"
    assert not _leaks(encoded.redact(text))


def test_a_url_the_two_parsers_read_differently_is_refused_saying_how_to_encode() -> None:
    # Python: password "p@ss", host db; libpq: password "p", host "ss@db"
    with pytest.raises(DestinationError) as refused:
        parse("postgresql://u:p@ss@db/w")
    message = str(refused.value)
    assert "differ on host, password" in message and "@ as %40" in message
    assert "ss@db" not in message and "p@ss" not in message


def test_the_key_names_the_destination_not_its_password() -> None:
    one = parse("postgresql://u:first@db:5432/w")
    other = parse("postgresql://u:second@db:5432/w")
    assert one.key == other.key and re.fullmatch(r"[0-9a-f]{32}", one.key)
    assert parse("postgresql://u:first@db:5432/x").key != one.key


def test_a_port_that_is_not_a_number_is_refused_in_one_line() -> None:
    with pytest.raises(DestinationError, match="port is not a number") as refused:
        parse("postgresql://u@localhost:54x2/db")
    assert "\n" not in str(refused.value)


def test_tenants_whose_ids_clean_alike_never_share_a_schema() -> None:
    assert schema_for("Acme") != schema_for("acme_37036cd8")
    assert schema_for("acme_37036cd8") == "facebook_ads_acme_37036cd8"  # clean ids keep theirs
    assert schema_for("acme") == "facebook_ads_acme"
    long_clean = "a" * 40
    assert schema_for(long_clean) == f"facebook_ads_{long_clean}"
    for tenant in ("Acme", "acme corp", "x" * 80, "Ünïcode", "a" * 41):
        schema = schema_for(tenant)
        assert len(schema.removeprefix("facebook_ads_")) > 40  # no unchanged id is this long
        assert len(schema) <= 63 and quote_identifier(schema)


SECRET = "hunter2x"


@pytest.mark.parametrize(
    "url",
    [
        f"snowflake://acct:{SECRET}/db?user=u&secret=f",
        f"snowflake://u:{SECRET}@acct/db?user=u&secret=f",
        f"bigquery://proj:{SECRET}/US",
        f"bigquery://proj/US?endpoint=https://u:{SECRET}@emulator.example",
        f"bigquery://proj/US?endpoint=https://{SECRET}@emulator.example",
        f"snowflake://acct/db?user=u&secret=f&host=u:{SECRET}@h",
        f"snowflake://acct/db?user=u&secret=f&{SECRET}",
    ],
)
def test_a_cloud_url_with_a_secret_out_of_place_is_refused_unquoted(url: str) -> None:
    with pytest.raises(DestinationError) as refused:
        parse(url)
    assert SECRET not in str(refused.value)


def test_a_cloud_urls_label_is_built_from_what_was_read() -> None:
    read = parse(" snowflake://acct/db?secret=f&port=1&user=u&host=127.0.0.1 ")
    assert read.label == "snowflake://acct/db?user=u&secret=f&host=127.0.0.1&port=1"
    endpoint = parse("bigquery://proj/US?endpoint=http://127.0.0.1:9050")
    assert endpoint.label == "bigquery://proj/US?endpoint=http://127.0.0.1:9050"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("postgres://u@db/w", "postgresql://u@db:5432/w"),
        ("postgresql://u@db,db2:5432/w", "postgresql://u@db:5432,db2/w"),
        ("snowflake://a/d?user=u&secret=f&role=r", "snowflake://a/d?role=r&secret=f&user=u"),
    ],
)
def test_spellings_of_one_destination_share_its_key(one: str, other: str) -> None:
    assert parse(one).key == parse(other).key
    assert parse("postgresql://u@db:5433/w").key != parse("postgresql://u@db/w").key
