"""MongoDB documents against a real MongoDB-wire server: keys, upserts, decimals, tokens."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from bson import Decimal128
from mongoengine import Document
from mongoengine.errors import NotUniqueError

from metasync import db
from metasync.crypto import TokenCipher
from metasync.models import (
    Ad,
    AdAccount,
    AdCreative,
    AdSet,
    AppliedUpgrade,
    Campaign,
    DailyInsight,
    MetaConnection,
    ReportRow,
    ReportRun,
    RowValidationError,
    SyncRun,
    TenantReport,
    attribution_key,
    breakdown_key,
    rotate_all,
    upsert_page,
)
from metasync.upgrades import apply_upgrades, split_placement_report

pytestmark = pytest.mark.usefixtures("mongo")

TOKEN = "sandbox-token-abcdefghijklmnopqrstuvwxyz"


def insight(entity: str, date: str, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": "t1",
        "account_id": "100",
        "level": "ad",
        "entity_id": entity,
        "date": date,
        "breakdown_key": "",
        "attribution_key": "default",
        **extra,
    }


def entity(meta_id: str, **extra: Any) -> dict[str, Any]:
    return {"tenant_id": "t1", "meta_id": meta_id, "account_id": "100", **extra}


@pytest.mark.parametrize("model", [AdAccount, Campaign, AdSet, Ad, AdCreative])
def test_entity_natural_key_is_unique(model: type[Document]) -> None:
    model(**entity("42")).save()
    with pytest.raises(NotUniqueError):
        model(**entity("42", name="again")).save()
    model(**{**entity("42"), "tenant_id": "t2"}).save()  # another tenant may mirror it too
    assert model.objects(meta_id="42").count() == 2


def test_insight_natural_key_is_unique_and_includes_breakdowns() -> None:
    DailyInsight(**insight("9", "2026-11-01")).save()
    with pytest.raises(NotUniqueError):
        DailyInsight(**insight("9", "2026-11-01", impressions=5)).save()
    DailyInsight(**insight("9", "2026-11-01", breakdown_key="age=18-24")).save()
    DailyInsight(**insight("9", "2026-11-01", attribution_key="7d_click")).save()
    DailyInsight(**insight("9", "2026-11-01", level="adset")).save()
    assert DailyInsight.objects.count() == 4


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (MetaConnection, {"tenant_id": "t", "meta_user_id": "u"}),
        (ReportRun, {"job_key": "k", "connection_id": "c", "tenant_id": "t", "account_id": "a"}),
    ],
)
def test_other_unique_keys(model: type[Document], fields: dict[str, str]) -> None:
    model(**fields).save()
    with pytest.raises(NotUniqueError):
        model(**fields).save()


def test_upserting_the_same_page_twice_leaves_the_same_documents() -> None:
    page = [entity(str(i), name=f"ad {i}", adset_id="7", campaign_id="3") for i in range(50)]
    first = upsert_page(Ad, page)
    assert first.inserted == 50
    before = {doc["meta_id"]: doc for doc in Ad._get_collection().find()}
    second = upsert_page(Ad, page)
    assert second.inserted == 0 and second.matched == 50
    after = {doc["meta_id"]: doc for doc in Ad._get_collection().find()}
    assert before.keys() == after.keys()
    for meta_id, doc in before.items():
        again = after[meta_id]
        assert again["_id"] == doc["_id"]
        assert again["first_seen_at"] == doc["first_seen_at"]
        assert {k: v for k, v in again.items() if k != "last_seen_at"} == {
            k: v for k, v in doc.items() if k != "last_seen_at"
        }


def test_insight_rows_upsert_without_duplicates_and_replace_values() -> None:
    rows = [insight(str(i), "2026-11-02", spend="1.50", impressions=10) for i in range(20)]
    upsert_page(DailyInsight, rows)
    upsert_page(DailyInsight, [{**rows[0], "spend": "2.25"}])
    assert DailyInsight.objects.count() == 20
    assert DailyInsight.objects(entity_id="0").get().spend == Decimal("2.25")


@pytest.mark.parametrize(
    "value",
    ["0.1", "5339.50", "-0.01", "12345678901234567890.123456789", "0E-10", "1000000000000.0001"],
)
def test_decimal128_round_trip_is_exact(value: str) -> None:
    upsert_page(DailyInsight, [insight("1", "2026-11-03", spend=value, cpm=Decimal(value))])
    raw = DailyInsight._get_collection().find_one()
    assert isinstance(raw["spend"], Decimal128)
    assert raw["spend"].to_decimal() == Decimal(value)
    assert str(raw["spend"].to_decimal()) == str(Decimal(value))
    loaded = DailyInsight.objects.get()
    assert loaded.spend == Decimal(value) and isinstance(loaded.cpm, Decimal)


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", "1e99999999"])
def test_money_rejects_non_numbers_and_writes_nothing(value: str) -> None:
    good = insight("1", "2026-11-04", spend="1")
    with pytest.raises(RowValidationError, match=r"spend"):
        upsert_page(DailyInsight, [good, insight("2", "2026-11-04", spend=value)])
    assert DailyInsight.objects.count() == 0


def test_row_without_natural_key_is_rejected() -> None:
    with pytest.raises(RowValidationError, match="meta_id"):
        upsert_page(Campaign, [{"tenant_id": "t1", "account_id": "100"}])


def test_partial_row_keeps_other_fields_and_explicit_none_clears() -> None:
    upsert_page(Campaign, [entity("5", name="Spring", objective="SALES", status="ACTIVE")])
    upsert_page(Campaign, [entity("5", status="PAUSED")])
    campaign = Campaign.objects.get(meta_id="5")
    assert (campaign.name, campaign.objective, campaign.status) == ("Spring", "SALES", "PAUSED")
    upsert_page(Campaign, [entity("5", objective=None)])
    assert Campaign.objects.get(meta_id="5").objective is None


def test_seen_again_clears_the_tombstone() -> None:
    upsert_page(AdSet, [entity("8", name="set")])
    AdSet.objects(meta_id="8").update(set__deleted_at=datetime(2026, 1, 1, tzinfo=UTC))
    upsert_page(AdSet, [entity("8", name="set")])
    adset = AdSet.objects.get(meta_id="8")
    assert adset.deleted_at is None and adset.last_seen_at is not None


def test_upsert_refuses_documents_without_natural_key() -> None:
    with pytest.raises(TypeError, match="natural key"):
        upsert_page(SyncRun, [{"connection_id": "c"}])


def test_canonical_keys() -> None:
    assert breakdown_key({"gender": "female", "age": "18-24"}) == "age=18-24|gender=female"
    assert breakdown_key({}) == ""
    assert attribution_key(["7d_click", "1d_view", "7d_click"]) == "1d_view,7d_click"
    assert attribution_key([]) == "default"


def test_stored_connection_holds_no_plaintext_token(cipher: TokenCipher) -> None:
    connection = MetaConnection(tenant_id="t1", meta_user_id="u1")
    connection.set_access_token(cipher, TOKEN)
    connection.save()
    raw = MetaConnection._get_collection().find_one({"_id": connection.pk})
    assert TOKEN not in repr(raw)
    assert raw["token_key_id"] == cipher.current_key_id
    assert MetaConnection.objects.get(pk=connection.pk).access_token(cipher) == TOKEN
    assert TOKEN not in str(connection) and TOKEN not in repr(connection)


def test_rotation_re_encrypts_stored_tokens_and_reports_failures() -> None:
    old_key, new_key = secrets.token_hex(32), secrets.token_hex(32)
    old = TokenCipher(old_key)
    ids = []
    for n in range(3):
        connection = MetaConnection(tenant_id="t1", meta_user_id=f"u{n}")
        connection.set_access_token(old, f"{TOKEN}-{n}")
        connection.save()
        ids.append(connection.pk)
    stranger = MetaConnection(tenant_id="t1", meta_user_id="lost")
    stranger.set_access_token(TokenCipher(secrets.token_hex(32)), TOKEN)
    stranger.save()

    rotating = TokenCipher(new_key, [old_key])
    report, destinations, *others = rotate_all(rotating)
    assert report.kind == "connection tokens" and destinations.kind == "export destinations"
    assert [kind.kind for kind in others] == ["page tokens", "lead answers"]
    assert (report.rotated, report.current) == (3, 0)
    assert [record for record, _ in report.unreadable] == [str(stranger.pk)]
    assert TOKEN not in report.unreadable[0][1]

    only_new = TokenCipher(new_key)
    for n, record_id in enumerate(ids):
        stored = MetaConnection.objects.get(pk=record_id)
        assert stored.token_key_id == only_new.current_key_id
        assert stored.access_token(only_new) == f"{TOKEN}-{n}"
    again = rotate_all(rotating)[0]
    assert (again.rotated, again.current) == (0, 3)


def test_database_helper_points_at_the_test_database(mongo: str) -> None:
    assert db.database().name == mongo


def test_rows_of_the_old_placement_report_move_to_placement_device_once() -> None:
    """``placement`` lost its device split (Meta made it opt-in on 2026-08-03): rows written
    with a device value are ``placement_device``'s; left in place they would double the new
    platform x position rows."""
    day = "2026-11-30"
    AppliedUpgrade.objects.delete()  # a mirror an earlier metasync wrote has had no upgrade

    def row(report: str, values: dict[str, str]) -> ReportRow:
        return ReportRow(
            tenant_id="t1", account_id="1", report=report, level="ad", entity_id="9",
            span=day, date_start=day, date_stop=day, breakdowns=values,
            breakdown_key=breakdown_key(values), spend=Decimal(1),
        ).save()  # fmt: skip

    where = {"publisher_platform": "facebook", "platform_position": "feed"}
    old = row("placement", {**where, "impression_device": "iphone"})
    new = row("placement", where)
    TenantReport(tenant_id="t1", name="placement").save()
    db.ensure_indexes()
    assert ReportRow.objects.get(pk=old.pk).report == "placement_device"
    assert ReportRow.objects.get(pk=new.pk).report == "placement"
    assert TenantReport.objects.get(tenant_id="t1", name="placement_device").enabled
    TenantReport.objects(tenant_id="t1", name="placement_device").update(set__enabled=False)
    assert split_placement_report() == 0  # once: nothing left to move
    assert apply_upgrades() == []  # recorded as applied: later starts skip it
    assert not TenantReport.objects.get(tenant_id="t1", name="placement_device").enabled
