"""The console's export pages with real MongoDB, Redis and PostgreSQL: each tenant's stored
destination (its label, never its password), its last export's time, status, rows per table and
error; a tenant's page holds that tenant's exports only; the list costs one MongoDB command at
any number of tenants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from metasync.crypto import TokenCipher
from metasync.export import ExportError, export_tenant
from metasync.export.targets import set_target
from metasync.models import ExportRun, ExportTarget, MetaConnection, utcnow
from metasync.sandbox.world import WorldSize
from metasync.sync import SyncContext, run_inline
from tests.integration.api.conftest import PASSWORD
from tests.support.commands import CommandCounter, command_counter
from tests.support.console import login
from tests.support.inline import perf
from tests.support.small_world import quick_reports_env, small_world

SECRET = "Hunter2@warehouse/#x"  # a password with characters URLs encode


def _with_password(url: str, user: str, host: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{user}:{quote(SECRET, safe='')}@{host or parts.netloc.rpartition('@')[2]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _leaks(text: str) -> list[str]:
    forms = {SECRET, quote(SECRET, safe=""), quote(SECRET), "Hunter2"}
    return [form for form in forms if form in text]


@pytest.fixture
def commands() -> CommandCounter:
    """Registered before the test's MongoDB client is made (asked for first), so it hears it."""
    return command_counter()


@pytest.fixture
def world_size() -> WorldSize:
    return small_world(users=2)


@pytest.fixture
def sync_env(sync_env: dict[str, str]) -> dict[str, str]:
    return quick_reports_env(sync_env)


def test_each_tenants_destination_last_export_rows_and_error_are_shown(
    make_client: Callable[..., TestClient],
    cipher: TokenCipher,
    postgres_url: str,
    ctx: SyncContext,
    connections: list[MetaConnection],
) -> None:
    first, second = connections
    acme, globex = first.tenant_id, second.tenant_id
    run_inline(ctx, str(first.pk))
    assert perf(ctx, first).status == "succeeded"
    good = _with_password(postgres_url, "postgres")  # trust auth: the password goes unused
    bad = _with_password(postgres_url, "globex_etl", host="127.0.0.1:1")  # nothing listens
    set_target(cipher, acme, good)
    set_target(cipher, globex, bad)
    exported = export_tenant(acme, good)
    with pytest.raises(ExportError):
        export_tenant(globex, bad)
    failed = ExportRun.objects.get(tenant_id=globex)
    assert failed.status == "failed" and failed.error, "the failure is recorded"
    acme_label = _escaped(ExportTarget.objects.get(tenant_id=acme).label)
    globex_label = _escaped(ExportTarget.objects.get(tenant_id=globex).label)
    assert acme_label != globex_label

    client = make_client()
    for path in ("/console/exports", f"/console/exports/{acme}"):
        assert client.get(path).status_code == 401, path
    login(client, PASSWORD)
    assert 'href="/console/exports"' in client.get("/console").text

    listing = client.get("/console/exports")
    assert listing.status_code == 200, listing.text[:300]
    rows = listing.text.split('class="export-target"')[1:]
    assert len(rows) == 2
    assert acme < globex, "the sandbox's users in order"
    acme_row, globex_row = rows  # tenant order
    assert f'data-tenant="{acme}"' in acme_row and acme_label in acme_row
    assert f'<td class="schema">{exported.schema}</td>' in acme_row, "the name dbt reads"
    assert "succeeded" in acme_row and f">{sum(exported.rows.values())}<" in acme_row
    assert f'data-tenant="{globex}"' in globex_row and globex_label in globex_row
    assert "failed" in globex_row
    assert _escaped(failed.error) in globex_row

    acme_page = client.get(f"/console/exports/{acme}").text
    assert acme_label in acme_page and "succeeded" in acme_page
    assert exported.rows["basic_ad"] > 0
    assert f"basic_ad: {exported.rows['basic_ad']}" in acme_page, "rows per table"
    assert globex_label not in acme_page and "globex_etl" not in acme_page, "the other tenant's"
    globex_page = client.get(f"/console/exports/{globex}").text
    assert globex_label in globex_page and _escaped(failed.error) in globex_page
    assert acme_label not in globex_page
    nobody = client.get("/console/exports/nobody").text
    assert "none stored" in nobody and "no exports" in nobody

    account = client.get(f"/console/accounts/{first.pk}/{first.ad_account_ids[0]}").text
    assert f'href="/console/exports/{acme}"' in account

    for path, text in (("list", listing.text), ("acme", acme_page), ("globex", globex_page)):
        assert not _leaks(text), f"the password is on the {path} page"
    answer = client.get(f"/console/exports/{globex}")
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    assert "<style" not in answer.text and " style=" not in answer.text
    assert "<script>" not in answer.text


def test_the_list_costs_one_command_at_any_number_of_tenants(
    commands: CommandCounter, make_client: Callable[..., TestClient], mongo: str
) -> None:
    client = make_client()
    login(client, PASSWORD)
    sent = {}
    for tenants in (3, 60):
        ExportTarget.objects.delete()
        for number in range(tenants):
            tenant = f"t{number:03d}"
            ExportTarget(
                tenant_id=tenant, label=f"postgresql://etl@wh/{tenant}", url_envelope="sealed"
            ).save()
            for hours in range(4):  # the newest, started an hour ago, is the one shown
                ExportRun(
                    tenant_id=tenant,
                    destination=f"postgresql://etl@wh/{tenant}",
                    status="failed" if hours else "succeeded",
                    rows={"basic_ad": hours + 1},
                    started_at=utcnow() - timedelta(hours=hours + 1),
                    error=f"attempt {hours}" if hours else None,
                ).save()
        sent[tenants] = commands.sent_by(lambda: client.get("/console/exports"))
        first = client.get("/console/exports").text
        assert first.count('class="export-target"') == min(tenants, 50), "50 a page"
        assert "attempt" not in first, "each tenant's newest export"
        assert first.count(">succeeded<") == min(tenants, 50)
        assert ('id="next-page"' in first) is (tenants > 50)
    assert sent[3] == sent[60] == ["aggregate"], sent
    second = client.get("/console/exports?page=2").text
    assert second.count('class="export-target"') == 10 and 'data-tenant="t059"' in second
    one = commands.sent_by(lambda: client.get("/console/exports/t007"))
    assert one == ["find", "find"], one
    page = client.get("/console/exports/t007").text
    assert page.count('class="export-run') == 4 and "attempt 3" in page


def _escaped(text: str) -> str:
    """``text`` as Jinja2 escapes it in a page."""
    return str(escape(text))
