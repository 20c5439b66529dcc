"""Erasing leads (one, a person's, past retention) from MongoDB with the erasure recorded for
the export, and nothing personal in logs or command output."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest

from metasync.config import load_settings
from metasync.crypto import TokenCipher
from metasync.leads import lead_answers
from metasync.leads.privacy import erase_expired, erase_leads, person_hashes
from metasync.leads.sync import sync_leads
from metasync.models import ExportDeletion, MetaConnection, rotate_all, utcnow
from metasync.models.leads import Lead, lead_streams
from metasync.sync import SyncContext
from workers.beat import beat_schedule


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "metasync", *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _answer(lead: Lead, ctx: SyncContext, name: str) -> str:
    return next(str(f["values"][0]) for f in lead_answers(lead, ctx.cipher) if f["name"] == name)


def test_erase_one_lead_and_a_persons_leads(
    ctx: SyncContext,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    connection = connections[0]
    sync_leads(ctx, connection)
    leads = list(Lead.objects(tenant_id=connection.tenant_id))
    assert len(leads) == 120
    one = leads[0]
    email = _answer(one, ctx, "email")
    done = run(["leads", "erase", "--lead", one.lead_id], sync_env)
    assert done.returncode == 0, done.stderr
    assert one.lead_id in done.stdout and "1 lead(s) erased" in done.stdout
    assert Lead.objects(lead_id=one.lead_id).count() == 0
    deletion = ExportDeletion.objects.get(source="leads", key__lead_id=one.lead_id)
    assert deletion.account_id == f"page:{one.page_id}" and deletion.seq
    assert deletion.tenant_id == connection.tenant_id
    assert lead_streams(connection.tenant_id) == [f"page:{one.page_id}"]

    # a person by phone: every lead with that number, however it is written
    phones = Counter(_answer(lead, ctx, "phone_number") for lead in leads[1:])
    phone, count = phones.most_common(1)[0]
    written = f"+1 ({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    done = run(["leads", "erase", "--phone", written], sync_env)
    assert done.returncode == 0, done.stderr
    assert f"{count} lead(s) erased" in done.stdout
    assert phone not in done.stdout + done.stderr
    left = list(Lead.objects(tenant_id=connection.tenant_id))
    assert len(left) == 119 - count
    assert all(_answer(lead, ctx, "phone_number") != phone for lead in left)
    assert ExportDeletion.objects(source="leads").count() == 1 + count

    # by e-mail, any case: that person's lead only
    other = left[0]
    address = _answer(other, ctx, "email").upper()
    done = run(["leads", "erase", "--email", f" {address} "], sync_env)
    assert done.returncode == 0 and "1 lead(s) erased" in done.stdout, done.stderr
    assert Lead.objects(lead_id=other.lead_id).count() == 0
    assert address.lower() not in done.stdout.lower() + done.stderr.lower()
    logged = caplog.text.lower()
    assert email not in logged and address.lower() not in logged and phone not in logged


def test_leads_past_retention_are_erased_and_recorded(
    ctx: SyncContext, connections: list[MetaConnection], sync_env: dict[str, str]
) -> None:
    sync_leads(ctx, connections[0])
    now = utcnow()
    old = Lead.objects(created_time__lt=now - timedelta(days=5)).count()
    assert 0 < old < 120
    erased = erase_expired(5, now)
    assert erased.count == old
    assert Lead.objects.count() == 120 - old
    assert Lead.objects(created_time__lt=now - timedelta(days=5)).count() == 0
    assert ExportDeletion.objects(source="leads").count() == old
    assert erase_expired(5, now).count == 0  # nothing twice
    settings = load_settings({**sync_env, "LEAD_RETENTION_DAYS": "30"})
    assert settings.LEAD_RETENTION_DAYS == 30
    schedule = beat_schedule(settings)
    assert schedule["erase-expired-leads"]["task"] == "metasync.erase_expired_leads"
    assert schedule["lead-syncs"]["task"] == "metasync.schedule_lead_syncs"


def test_key_rotation_reseals_answers_and_a_person_is_still_found(
    ctx: SyncContext, connections: list[MetaConnection]
) -> None:
    sync_leads(ctx, connections[0])
    lead = Lead.objects.first()
    email = _answer(lead, ctx, "email")
    old_key = ctx.settings.ENCRYPTION_KEY.get_secret_value()
    rotating = TokenCipher(secrets.token_hex(32), [old_key])
    kinds = {kind.kind: kind for kind in rotate_all(rotating)}
    assert kinds["lead answers"].rotated == 120 and not kinds["lead answers"].unreadable
    assert kinds["page tokens"].rotated == 1
    lead.reload()
    assert lead.answers_key_id == rotating.current_key_id
    assert _answer(lead, ctx=SimpleNamespace(cipher=rotating), name="email") == email  # type: ignore[arg-type]
    hashes = person_hashes(rotating, email=email)  # stored under the old key, found by it
    assert erase_leads(hashes=hashes).lead_ids == {lead.tenant_id: [lead.lead_id]}
