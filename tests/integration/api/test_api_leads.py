"""``/api/v1/leads`` and ``/lead-forms`` (metasync.api.leads) with real MongoDB and Redis: the
``leads`` scope guards them, the answers need ``lead_answers`` too, every filter and page keeps
to the key's tenant, and no answer reaches a log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metasync.api.keys import create_key
from metasync.crypto import TokenCipher
from metasync.models import Lead, LeadForm
from metasync.models.leads import lead_stream

EMAIL = "ada.lovelace@example.com"
PHONE = "+15550102233"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _lead(cipher: TokenCipher, tenant: str, lead_id: str, hour: int, **fields: Any) -> None:
    answers = fields.pop("answers", [{"name": "email", "values": [f"{lead_id}@example.com"]}])
    page = fields.pop("page_id", "5551")
    lead = Lead(
        tenant_id=tenant,
        connection_id="c1",
        page_id=page,
        form_id=fields.pop("form_id", "7771"),
        lead_id=lead_id,
        created_time=datetime(2026, 12, 1, hour, tzinfo=UTC),
        account_id=lead_stream(page),
        seq=hour,
        is_organic="ad_id" not in fields,
        platform="fb",
        **fields,
    )
    lead.set_answers(cipher, answers)
    lead.save()


@pytest.fixture
def leads(mongo: str, env: dict[str, str]) -> None:
    """acme: two forms, four leads (three from ad 111, one organic); globex: one lead."""
    cipher = TokenCipher(env["ENCRYPTION_KEY"])
    for form_id, name in (("7771", "Quote"), ("7772", "Call back")):
        LeadForm(
            tenant_id="acme",
            connection_id="c1",
            page_id="5551",
            form_id=form_id,
            name=name,
            status="ACTIVE",
            questions=[{"key": "email", "label": "Email", "type": "EMAIL"}],
        ).save()
    paid = {"ad_id": "111", "adset_id": "222", "campaign_id": "333", "ad_account_id": "101"}
    answers = [{"name": "email", "values": [EMAIL]}, {"name": "phone_number", "values": [PHONE]}]
    _lead(cipher, "acme", "9001", 8, answers=answers, **paid)
    _lead(cipher, "acme", "9002", 9, **paid)
    _lead(cipher, "acme", "9003", 10, form_id="7772", **paid)
    _lead(cipher, "acme", "9004", 11)
    _lead(cipher, "globex", "9101", 9, page_id="5552", form_id="7791", ad_id="111")


def _ids(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["data"]]


def test_a_key_without_the_leads_scope_reaches_no_lead(api: TestClient, leads: None) -> None:
    _, reader = create_key("acme")  # read only
    _, answers_alone = create_key("acme", scopes=("lead_answers",))
    for key in (reader, answers_alone):
        for path in ("/api/v1/leads", "/api/v1/lead-forms"):
            answer = api.get(path, headers=_auth(key))
            assert answer.status_code == 403, answer.text
            assert "may not leads" in answer.json()["detail"]
            assert "example.com" not in answer.text


def test_answers_are_shown_only_to_a_key_with_lead_answers(api: TestClient, leads: None) -> None:
    _, lister = create_key("acme", scopes=("leads",))
    _, answerer = create_key("acme", scopes=("leads", "lead_answers"))
    hidden = api.get("/api/v1/leads", headers=_auth(lister))
    assert _ids(hidden) == ["9001", "9002", "9003", "9004"]  # acme's only
    assert all(item["answers"] is None for item in hidden.json()["data"])
    assert EMAIL not in hidden.text and "example.com" not in hidden.text
    first = hidden.json()["data"][0]
    assert (first["ad_id"], first["adset_id"], first["campaign_id"], first["account_id"]) == (
        "111",
        "222",
        "333",
        "101",
    )
    organic = hidden.json()["data"][3]
    assert organic["is_organic"] is True and organic["ad_id"] is None
    shown = api.get("/api/v1/leads", headers=_auth(answerer), params={"form_id": "7771"})
    assert _ids(shown) == ["9001", "9002", "9004"]
    assert shown.json()["data"][0]["answers"] == [
        {"name": "email", "values": [EMAIL]},
        {"name": "phone_number", "values": [PHONE]},
    ]
    forms = api.get("/api/v1/lead-forms", headers=_auth(lister))
    assert _ids(forms) == ["7771", "7772"]
    assert forms.json()["data"][0]["questions"][0]["key"] == "email"


def test_leads_filter_by_ad_form_and_time_and_page_by_cursor(api: TestClient, leads: None) -> None:
    _, key = create_key("acme", scopes=("leads",))

    def listed(**params: Any) -> list[str]:
        return _ids(api.get("/api/v1/leads", headers=_auth(key), params=params))

    assert listed(ad_id="111") == ["9001", "9002", "9003"]  # globex's lead of ad 111 is not
    assert listed(form_id="7772") == ["9003"]
    assert listed(account_id="101", campaign_id="333") == ["9001", "9002", "9003"]
    window = {"since": "2026-12-01T09:00:00Z", "until": "2026-12-01T11:00:00+00:00"}
    assert listed(**window) == ["9002", "9003"]  # since inclusive, until exclusive
    assert listed(since="2026-12-01T10:00:00+01:00") == ["9002", "9003", "9004"]  # 09:00 UTC
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/leads", headers=_auth(key), params=params)
        seen += _ids(page)
        if (cursor := page.json()["next_cursor"]) is None:
            break
    assert seen == ["9001", "9002", "9003", "9004"]
    backwards = api.get(
        "/api/v1/leads",
        headers=_auth(key),
        params={"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
    )
    assert backwards.status_code == 400 and backwards.json()["detail"].startswith("since:")
    for wrong in ({"ad_id": "a1"}, {"until": "0.5"}, {"since": "2026-12-01"}):
        bad = api.get("/api/v1/leads", headers=_auth(key), params=wrong)
        assert bad.status_code == 422, (wrong, bad.text)


def test_no_answer_reaches_a_log(
    api: TestClient, leads: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, key = create_key("acme", scopes=("leads", "lead_answers"))
    answer = api.get("/api/v1/leads", headers=_auth(key), params={"ad_id": "111"})
    assert EMAIL in answer.text  # the answers were opened for this answer...
    assert caplog.records, "the request was logged at all"
    assert EMAIL not in caplog.text and PHONE not in caplog.text  # ...and logged nowhere
