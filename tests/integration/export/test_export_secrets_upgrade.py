"""The ``export_secrets`` upgrade: passwords an earlier metasync kept in plain text in export
leases, export targets' labels and export runs are gone from every document afterwards."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from bson import json_util

import metasync.export  # noqa: F401 - registers the upgrade
from metasync import db
from metasync.config import get_settings
from metasync.crypto import TokenCipher
from metasync.export.destinations import parse
from metasync.models import AppliedUpgrade, ExportRun, ExportTarget, utcnow
from metasync.upgrades import apply_upgrades


def _old_target(cipher: TokenCipher, tenant: str, url: str) -> ExportTarget:
    """A target as an earlier metasync stored it: the whole URL as its label."""
    target = ExportTarget(tenant_id=tenant, label=url)
    target.set_url(cipher, url)
    target.save()
    return target


def test_passwords_kept_by_an_earlier_metasync_are_removed_everywhere(
    mongo: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    cipher = TokenCipher(env["ENCRYPTION_KEY"])
    password = f"pw-{uuid.uuid4().hex}"
    url = f"postgresql://metasync:{password}@127.0.0.1:5432/warehouse"
    _old_target(cipher, "t1", url)
    _old_target(cipher, "t2", f"mysql://metasync:{password}x@db.example/warehouse")
    leases = db.database()["export_leases"]
    kept = uuid.uuid4().hex  # today's lease: a digest, no text of the URL
    leases.insert_many(
        [
            {"_id": f"t1|{url}", "holder": None, "expires_at": utcnow()},
            {"_id": kept, "holder": None, "expires_at": utcnow() + timedelta(minutes=5)},
        ]
    )
    failed = f"export of tenant t1 to {url} failed: OperationalError: connection to {url} refused"
    ExportRun(tenant_id="t1", destination=url, status="failed", error=failed).save()
    ExportRun(tenant_id="t1", destination=url, status="succeeded").save()
    AppliedUpgrade.objects(name="export_secrets").delete()
    try:
        assert apply_upgrades() == ["export_secrets"]
    finally:
        get_settings.cache_clear()
    everything = db.database()
    for collection in everything.list_collection_names():
        for doc in everything[collection].find():
            assert password not in json_util.dumps(doc), (collection, doc)
    label = parse(url).label
    assert ExportTarget.objects(tenant_id="t1").get().label == label
    unreadable = ExportTarget.objects(tenant_id="t2").get().label
    assert unreadable.startswith("(destination needs to be entered again: its stored URL is")
    assert [d["_id"] for d in leases.find()] == [kept]
    runs = list(ExportRun.objects(tenant_id="t1").order_by("status"))
    assert [r.destination for r in runs] == [label, label]
    assert runs[0].error == failed.replace(password, "***")
    assert apply_upgrades() == []  # recorded: later starts skip it
