"""The lead sync against a sandbox world with lead forms: every lead by backfill, counted per
ad as the ground truth counts them, answers sealed, missing permissions recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

from metasync.leads import lead_answers
from metasync.leads.sync import sync_leads
from metasync.models import MetaConnection
from metasync.models.leads import Lead, LeadAccessState, LeadForm, LeadPage
from metasync.sync import SyncContext, run_inline
from tests.support.sandbox import Sandbox


def test_backfill_matches_the_ground_truth_per_ad_and_seals_answers(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    run_inline(ctx, str(connections[0].pk))  # the mirror knows the first tenant's ads
    results = [sync_leads(ctx, connection) for connection in connections]
    truth = world.control("GET", "ground-truth/leads")
    assert [r.not_granted for r in results] == [[], []]
    assert sum(r.leads for r in results) == truth["total"] == 240
    per_ad = Counter(lead.ad_id for lead in Lead.objects if lead.ad_id)
    assert dict(per_ad) == truth["by_ad"]
    organic = Counter(lead.form_id for lead in Lead.objects(is_organic=True))
    assert dict(organic) == truth["organic_by_form"]
    assert LeadForm.objects.count() == 4
    form = LeadForm.objects.first()
    assert [q["key"] for q in form.questions] == ["full_name", "email", "phone_number", "budget"]
    assert form.questions[3]["options"][1]["value"] == "$1,000 to $5,000"
    first_tenant = connections[0].tenant_id
    mirrored = Lead.objects(tenant_id=first_tenant, is_organic=False).first()
    assert mirrored.ad_account_id in connections[0].ad_account_ids
    assert mirrored.account_id == f"page:{mirrored.page_id}" and mirrored.seq

    # the answers are in no stored document in clear text, and open with the key
    token = LeadPage.objects(tenant_id=first_tenant).first().page_token(ctx.cipher)
    meta_lead = world.get(mirrored.lead_id, token=token, fields="field_data").json()
    email = next(f["values"][0] for f in meta_lead["field_data"] if f["name"] == "email")
    stored = json.dumps([d for d in Lead._get_collection().find({})], default=str)
    assert email not in stored and "example.com" not in stored and "5550" not in stored
    assert lead_answers(mirrored, ctx.cipher) == meta_lead["field_data"]
    raw = Lead._get_collection().find_one({"lead_id": mirrored.lead_id})
    assert lead_answers(raw, ctx.cipher) == meta_lead["field_data"]


def test_incremental_reads_pick_up_new_leads_and_are_idempotent(
    ctx: SyncContext, world: Sandbox, connections: list[MetaConnection]
) -> None:
    connection = connections[0]
    first = sync_leads(ctx, connection)
    assert first.leads == 120
    form = LeadForm.objects(tenant_id=connection.tenant_id).first()
    made = world.control(
        "POST", "leads/new", {"form_id": form.form_id, "count": 3, "notify": False}
    )
    again = sync_leads(ctx, connection)
    assert again.leads < 20  # the overlap's hour, not every lead again
    assert Lead.objects(tenant_id=connection.tenant_id).count() == 123
    assert {lead.lead_id for lead in Lead.objects(lead_id__in=made["leads"])} == set(made["leads"])
    full = sync_leads(ctx, connection, full=True)
    assert full.leads == 123
    assert Lead.objects(tenant_id=connection.tenant_id).count() == 123


def test_missing_leads_retrieval_is_recorded_and_other_work_goes_on(
    ctx: SyncContext,
    world: Sandbox,
    connections: list[MetaConnection],
    sync_env: dict[str, str],
) -> None:
    refused, other = connections
    world.control(
        "POST",
        "tokens/scopes",
        {
            "token": world.user(0)["token"],
            "scopes": ["ads_read", "ads_management", "pages_show_list", "pages_manage_ads"],
        },
    )
    result = sync_leads(ctx, refused)
    assert result.leads == 0 and len(result.not_granted) == 1
    page = LeadPage.objects.get(tenant_id=refused.tenant_id)
    assert page.access == LeadAccessState.NOT_GRANTED
    assert "leads_retrieval" in page.access_reason
    assert LeadForm.objects(tenant_id=refused.tenant_id).count() == 2  # forms still read
    shown_by_cli = subprocess.run(
        [sys.executable, "-m", "metasync", "leads", "pages", "--tenant", refused.tenant_id],
        env={"PATH": os.environ.get("PATH", ""), **sync_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown_by_cli.returncode == 0, shown_by_cli.stderr
    assert page.page_id in shown_by_cli.stdout and "not_granted" in shown_by_cli.stdout
    run_inline(ctx, str(refused.pk))  # the entity and performance sync are not affected
    refused.reload()
    assert refused.status == "ACTIVE"
    assert sync_leads(ctx, other).leads == 120
