"""Lead documents as rows of the warehouse's lead tables (metasync.export.leads), on plain data."""

from __future__ import annotations

from datetime import UTC, datetime

from metasync.export.leads import erased_lead_keys, field_data_rows, lead_parents, lead_row
from metasync.export.tables import TABLES

SYNCED = datetime(2026, 12, 8, tzinfo=UTC)


def test_a_lead_row_carries_where_it_came_from_and_nothing_personal() -> None:
    stored = {
        "lead_id": "9001",
        "form_id": "7771",
        "page_id": "5551",
        "ad_id": "",
        "adset_id": "",
        "campaign_id": "",
        "ad_account_id": "",
        "created_time": SYNCED,
        "is_organic": True,
        "platform": "",
        "answers_envelope": "v1.sealed",
        "person_hashes": ["e:abc"],
    }
    row = dict(zip(TABLES["lead"].names, lead_row(stored, SYNCED), strict=True))
    assert row["id"] == 9001 and row["form_id"] == 7771 and row["page_id"] == 5551
    assert (row["ad_id"], row["adset_id"], row["account_id"], row["platform"]) == (
        None,
        None,
        None,
        None,
    ), "an organic lead has no ad: empty, not zero"
    assert row["is_organic"] is True
    assert "v1.sealed" not in map(str, row.values()) and "e:abc" not in map(str, row.values())


def test_answers_become_one_row_per_question_in_metas_order() -> None:
    answers = [
        {"name": "email", "values": ["a@example.com"]},
        {"name": "rooms", "values": ["kitchen", "bath"]},
    ]
    rows = field_data_rows({"lead_id": "9001"}, answers, SYNCED)
    names = TABLES["lead_field_data"].names
    assert [dict(zip(names, r, strict=True)) for r in rows] == [
        {
            "lead_id": 9001,
            "name": "email",
            "index": 0,
            "value": ["a@example.com"],
            "_fivetran_synced": SYNCED,
        },
        {
            "lead_id": 9001,
            "name": "rooms",
            "index": 1,
            "value": ["kitchen", "bath"],
            "_fivetran_synced": SYNCED,
        },
    ]


def test_only_lead_erasures_delete_leads_each_once() -> None:
    deletions = [
        {"source": "leads", "key": {"lead_id": "9001"}},
        {"source": "leads", "key": {"lead_id": "9001"}},  # erased twice: deleted once
        {"source": "reports", "key": {"lead_id": "9002"}},  # not a lead erasure
        {"source": "leads", "key": {"lead_id": "not-a-number"}},  # no such row can exist
    ]
    assert erased_lead_keys(deletions) == [(9001,)]
    assert lead_parents(["9003", "9003", "x"]) == [(9003,)]
