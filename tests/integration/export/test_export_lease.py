"""One export of a (tenant, destination) at a time, however its URL is spelled: the lease is
keyed by what names the destination (``Destination.key``), not by the text of its URL."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from metasync.export import ExportBusy, export_tenant, rebuild

TENANT = "acme"


def test_two_spellings_of_one_destination_contend_for_one_lease(
    mongo: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert postgres_url.startswith("postgresql://") and ":5432/" in postgres_url
    other = postgres_url.replace("postgresql://", "postgres://").replace(":5432/", "/")
    inside, go = threading.Event(), threading.Event()
    resume = rebuild.resume

    def held(tenant_id: str, **options: Any) -> rebuild.Rebuilt:  # the first export waits,
        if threading.current_thread().name == "first":  # holding its lease
            inside.set()
            assert go.wait(60)
        return resume(tenant_id, **options)

    monkeypatch.setattr(rebuild, "resume", held)
    errors: list[BaseException] = []

    def first() -> None:
        try:
            export_tenant(TENANT, postgres_url)
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=first, name="first")
    thread.start()
    try:
        assert inside.wait(60)
        with pytest.raises(ExportBusy, match="another export"):
            export_tenant(TENANT, other)
    finally:
        go.set()
        thread.join(120)
    assert not thread.is_alive() and errors == []
    export_tenant(TENANT, other)  # given back: the other spelling exports now
