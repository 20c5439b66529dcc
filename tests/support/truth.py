"""Compare what MongoDB holds with the sandbox's ground truth, field by field.

The expectations are computed here from Meta's raw shapes, independently of metasync's mapping,
so a mapping bug shows up as a mismatch instead of being reproduced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from metasync.models import Ad, AdAccount, AdCreative, AdSet, Campaign
from tests.support.library_truth import library_mismatches

__all__ = ["entity_mismatches", "insight_mismatches"]


def _money(value: Any, currency: str) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value)) / (1 if currency == "JPY" else 100)


def _time(value: str | None) -> datetime | None:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC) if value else None


def _check(problems: list[str], what: str, expected: Any, actual: Any) -> None:
    if expected != actual:
        problems.append(f"{what}: expected {expected!r}, found {actual!r}")


def entity_mismatches(truth: dict[str, Any], tenant_of_account: dict[str, str]) -> list[str]:
    """Every difference between the ground truth and MongoDB's live (not tombstoned) objects,
    libraries and activity logs included; empty when they are equal."""
    problems: list[str] = []
    currency = {a["account_id"]: a["currency"] for a in truth["accounts"]}
    tenants = sorted(set(tenant_of_account.values()))

    for raw in truth["accounts"]:
        doc = AdAccount.objects(
            tenant_id=tenant_of_account[raw["account_id"]], meta_id=raw["id"]
        ).first()
        if doc is None:
            problems.append(f"account {raw['id']} missing")
            continue
        for name in ("name", "currency", "timezone_name", "account_status"):
            _check(problems, f"account {raw['id']} {name}", raw.get(name), getattr(doc, name))
        _check(
            problems,
            f"account {raw['id']} amount_spent",
            _money(raw["amount_spent"], raw["currency"]),
            doc.amount_spent,
        )
        _check(problems, f"account {raw['id']} business", raw["business"]["id"], doc.business_id)

    def common(kind: str, raw: dict[str, Any], doc: Any) -> None:
        for name in ("name", "status", "effective_status"):
            _check(problems, f"{kind} {raw['id']} {name}", raw.get(name), getattr(doc, name))
        _check(
            problems,
            f"{kind} {raw['id']} updated_time",
            _time(raw["updated_time"]),
            doc.updated_time,
        )
        _check(
            problems,
            f"{kind} {raw['id']} issues_info",
            raw.get("issues_info") or [],
            list(doc.issues_info),
        )
        unlisted = raw["id"] in truth.get("unlisted", ())  # read by id: tombstoned, final status
        _check(problems, f"{kind} {raw['id']} tombstoned", unlisted, doc.deleted_at is not None)
        _check(
            problems,
            f"{kind} {raw['id']} recommendations",
            raw.get("recommendations") or [],
            list(doc.recommendations),
        )
        if kind == "adset":
            _check(
                problems,
                f"adset {raw['id']} learning_stage_info",
                raw.get("learning_stage_info") or {},
                dict(doc.learning_stage_info or {}),
            )

    tables: list[tuple[str, Any, str]] = [
        ("campaign", Campaign, "campaigns"),
        ("adset", AdSet, "adsets"),
        ("ad", Ad, "ads"),
        ("adcreative", AdCreative, "adcreatives"),
    ]
    for kind, model, key in tables:
        expected_ids = {
            (tenant_of_account[o["account_id"]], o["id"])
            for o in truth[key]
            if o["id"] not in truth.get("unlisted", ())
        }
        live = {"tenant_id": {"$in": tenants}, "deleted_at": None}  # tombstones are not live
        stored = {
            (d["tenant_id"], d["meta_id"])
            for d in model._get_collection().find(live, {"tenant_id": 1, "meta_id": 1})
        }
        stored_count = model._get_collection().count_documents(live)
        _check(problems, f"{key} ids", sorted(expected_ids), sorted(stored))
        _check(problems, f"{key} documents (duplicates?)", len(expected_ids), stored_count)
        for raw in truth[key]:
            doc = model.objects(
                tenant_id=tenant_of_account[raw["account_id"]], meta_id=raw["id"]
            ).first()
            if doc is None:
                continue
            money = currency[raw["account_id"]]
            if kind != "adcreative":
                common(kind, raw, doc)
            if kind == "campaign":
                _check(problems, f"campaign {raw['id']} objective", raw["objective"], doc.objective)
                _check(
                    problems,
                    f"campaign {raw['id']} daily_budget",
                    _money(raw.get("daily_budget"), money),
                    doc.daily_budget,
                )
            elif kind == "adset":
                _check(problems, f"adset {raw['id']} campaign", raw["campaign_id"], doc.campaign_id)
                _check(
                    problems, f"adset {raw['id']} targeting", raw["targeting"], dict(doc.targeting)
                )
                _check(
                    problems,
                    f"adset {raw['id']} countries",
                    raw["targeting"]["geo_locations"]["countries"],
                    doc.targeting_summary.get("countries"),
                )
                _check(
                    problems,
                    f"adset {raw['id']} bid_amount",
                    _money(raw.get("bid_amount"), money),
                    doc.bid_amount,
                )
            elif kind == "ad":
                _check(
                    problems,
                    f"ad {raw['id']} ids",
                    (raw["campaign_id"], raw["adset_id"], raw["creative"]["id"]),
                    (doc.campaign_id, doc.adset_id, doc.creative_id),
                )
            else:
                creative_mismatches(problems, raw, doc)
    return problems + library_mismatches(truth, tenant_of_account)


def _expected_creative(raw: dict[str, Any]) -> dict[str, Any]:
    """What a creative's summary fields should be, read from Meta's raw shape: its own fields,
    else its story spec, else (dynamic creatives) the first entry of each asset feed list."""
    feed = raw.get("asset_feed_spec") or {}
    spec = raw["object_story_spec"]
    data = spec.get("link_data") or spec.get("video_data") or {}

    def first(name: str, key: str) -> Any:
        return (feed.get(name) or [{}])[0].get(key)

    if feed:
        return {
            "title": first("titles", "text"),
            "body": first("bodies", "text"),
            "call_to_action_type": feed["call_to_action_types"][0],
            "image_hash": first("images", "hash"),
            "video_id": first("videos", "video_id"),
            "link_url": first("link_urls", "website_url"),
        }
    return {
        "title": raw.get("title"),
        "body": raw.get("body"),
        "call_to_action_type": raw.get("call_to_action_type"),
        "image_hash": raw.get("image_hash"),
        "video_id": raw.get("video_id"),
        "link_url": data.get("link") or data["call_to_action"]["value"]["link"],
    }


def creative_mismatches(problems: list[str], raw: dict[str, Any], doc: Any) -> None:
    for name, wanted in _expected_creative(raw).items():
        _check(problems, f"creative {raw['id']} {name}", wanted, getattr(doc, name))
    for name in ("object_story_id", "effective_object_story_id", "url_tags"):
        _check(problems, f"creative {raw['id']} {name}", raw.get(name), getattr(doc, name))
    _check(
        problems,
        f"creative {raw['id']} asset_feed_spec",
        raw.get("asset_feed_spec") or {},
        dict(doc.asset_feed_spec or {}),
    )


def insight_mismatches(
    truth: dict[str, Any],
    tenant_of_account: dict[str, str],
    levels: tuple[str, ...] = ("account", "campaign", "adset", "ad"),
    counted: dict[str, str] | None = None,
) -> list[str]:
    """Every difference between the ground truth's daily rows and ``DailyInsight`` documents:
    every metric of every entity and day, and no row more or less. ``counted``: the action
    type a tenant counts as conversions, by account (``purchase`` where not named)."""
    from metasync.models import DailyInsight

    problems: list[str] = []
    ids = {"account": "account_id", "campaign": "campaign_id", "adset": "adset_id", "ad": "ad_id"}
    tenants = sorted(set(tenant_of_account.values()))
    for level in levels:
        expected = {
            (r["account_id"], r[ids[level]], r["date_start"]): r
            for r in truth["insights"][level]
            if r["account_id"] in tenant_of_account
        }
        stored = {
            (d.account_id, d.entity_id, d.date): d
            for d in DailyInsight.objects(level=level, tenant_id__in=tenants)
        }
        _check(problems, f"{level} row keys", sorted(expected), sorted(stored))
        _check(
            problems,
            f"{level} documents (duplicates?)",
            len(expected),
            DailyInsight.objects(level=level, tenant_id__in=tenants).count(),
        )
        for key, raw in expected.items():
            doc = stored.get(key)
            if doc is None:
                continue
            where = f"{level} {key}"
            for name in ("impressions", "clicks", "reach"):
                _check(problems, f"{where} {name}", int(raw[name]), getattr(doc, name))
            for name in ("spend", "frequency", "ctr", "cpc", "cpm"):
                wanted = Decimal(raw[name]) if raw.get(name) is not None else None
                _check(problems, f"{where} {name}", wanted, getattr(doc, name))
            purchases = {a["action_type"]: a["value"] for a in raw.get("actions", [])}
            revenue = {a["action_type"]: a["value"] for a in raw.get("action_values", [])}
            action = (counted or {}).get(raw["account_id"], "purchase")
            _check(
                problems,
                f"{where} conversions",
                Decimal(purchases.get(action, "0")),
                doc.conversions,
            )
            _check(problems, f"{where} revenue", Decimal(revenue.get(action, "0")), doc.revenue)
            _check(problems, f"{where} tenant", tenant_of_account[raw["account_id"]], doc.tenant_id)
            _check(
                problems,
                f"{where} attribution_setting",
                raw["attribution_setting"],
                doc.attribution_setting,
            )
    return problems
