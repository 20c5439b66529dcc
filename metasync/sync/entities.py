"""Reading one account-level edge, a few pages per call, into MongoDB.

Each page is one unordered bulk upsert. Ads are read with their creative's fields nested
(``creative{...}``), so creatives come with the ads at no extra call; the ``adcreatives`` edge is
listed only by full reconciliations (to catch creatives no ad uses and to tombstone).

The library edges (``adimages``, ``advideos``, ``customconversions``, ``customaudiences``) have
no ``updated_time`` filter at Meta, so every sync lists them whole (a page or two per account)
and tombstones what a complete listing no longer returns. ``activities`` is read from ``since``
(unix seconds, Meta's parameter) and only ever appended to. Before a page of campaigns or ad
sets is written, :func:`metasync.sync.changes.record_changes` logs their new status, budget and
bid values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mongoengine import Document

from metasync.graph import GraphClient, iter_pages
from metasync.graph.statuses import all_statuses_rule
from metasync.models import (
    Ad,
    AdActivity,
    AdCreative,
    AdImage,
    AdSet,
    AdVideo,
    Campaign,
    CustomAudience,
    CustomConversion,
    upsert_page,
    utcnow,
)
from metasync.sync import library_mapping, mapping
from metasync.sync.changes import record_changes

__all__ = [
    "EDGES",
    "LIBRARY_EDGES",
    "PAGES_PER_TASK",
    "PAGE_SIZE",
    "ChunkResult",
    "EdgeSpec",
    "read_edge_chunk",
]

PAGE_SIZE = 200  # objects per Graph page (Meta's maximum for edges is higher; 200 stays small)
PAGES_PER_TASK = 5  # pages one task reads before handing the cursor to a follow-up task

CREATIVE_FIELDS = (
    "id,account_id,name,status,title,body,image_url,image_hash,video_id,"
    "thumbnail_url,call_to_action_type,object_story_spec,object_story_id,"
    "effective_object_story_id,asset_feed_spec,url_tags,degrees_of_freedom_spec,"
    "instagram_user_id,effective_instagram_media_id,source_instagram_media_id"
)
COMMON = "id,account_id,name,status,configured_status,effective_status,created_time,updated_time,"


@dataclass(frozen=True)
class EdgeSpec:
    edge: str  # Graph edge under act_<id>
    model: type[Document]
    prefix: str | None  # filtering prefix; None: the edge takes no status/time filter
    fields: str
    mapper: Callable[[Mapping[str, Any], str, str | None, str], dict[str, Any]]


EDGES: dict[str, EdgeSpec] = {
    "campaigns": EdgeSpec(
        "campaigns",
        Campaign,
        "campaign",
        COMMON + "objective,buying_type,daily_budget,lifetime_budget,budget_remaining,"
        "bid_strategy,special_ad_categories,start_time,stop_time,issues_info,recommendations,"
        "smart_promotion_type,is_adset_budget_sharing_enabled,advantage_state_info",
        lambda raw, tenant, currency, _: mapping.map_campaign(raw, tenant, currency),
    ),
    "adsets": EdgeSpec(
        "adsets",
        AdSet,
        "adset",
        COMMON + "campaign_id,daily_budget,lifetime_budget,bid_amount,billing_event,"
        "optimization_goal,targeting,start_time,end_time,issues_info,recommendations,"
        "learning_stage_info,attribution_spec,placement_soft_opt_out,"
        "regional_regulated_categories",
        lambda raw, tenant, currency, _: mapping.map_adset(raw, tenant, currency),
    ),
    "ads": EdgeSpec(
        "ads",
        Ad,
        "ad",
        COMMON + "campaign_id,adset_id,issues_info,recommendations,ad_review_feedback,"
        f"creative{{{CREATIVE_FIELDS}}}",
        lambda raw, tenant, _currency, _account: mapping.map_ad(raw, tenant),
    ),
    "adcreatives": EdgeSpec(
        "adcreatives",
        AdCreative,
        None,
        CREATIVE_FIELDS,
        lambda raw, tenant, _currency, account: mapping.map_creative(raw, tenant, account),
    ),
    "adimages": EdgeSpec(
        "adimages",
        AdImage,
        None,
        "id,account_id,hash,name,url,url_128,permalink_url,width,height,original_width,"
        "original_height,status,creatives,created_time,updated_time",
        lambda raw, tenant, _currency, account: library_mapping.map_image(raw, tenant, account),
    ),
    "advideos": EdgeSpec(
        "advideos",
        AdVideo,
        None,
        "id,title,description,length,status,picture,permalink_url,created_time,updated_time",
        lambda raw, tenant, _currency, account: library_mapping.map_video(raw, tenant, account),
    ),
    "customconversions": EdgeSpec(
        "customconversions",
        CustomConversion,
        None,
        "id,account_id,name,description,custom_event_type,rule,default_conversion_value,"
        "event_source_type,pixel,is_archived,is_unavailable,creation_time,first_fired_time,"
        "last_fired_time",
        lambda raw, tenant, _cur, account: library_mapping.map_custom_conversion(
            raw, tenant, account
        ),
    ),
    "customaudiences": EdgeSpec(
        "customaudiences",
        CustomAudience,
        None,
        "id,account_id,name,description,subtype,approximate_count_lower_bound,"
        "approximate_count_upper_bound,delivery_status,operation_status,retention_days,"
        "time_created,time_updated,time_content_updated",
        lambda raw, tenant, _cur, account: library_mapping.map_custom_audience(
            raw, tenant, account
        ),
    ),
    "activities": EdgeSpec(
        "activities",
        AdActivity,
        None,
        "event_time,event_type,translated_event_type,actor_id,actor_name,application_id,"
        "application_name,object_id,object_name,object_type,extra_data",
        lambda raw, tenant, _cur, account: library_mapping.map_activity(raw, tenant, account),
    ),
}
LIBRARY_EDGES = ("adimages", "advideos", "customconversions", "customaudiences")
CHANGE_KINDS = {"campaigns": "campaign", "adsets": "adset"}


@dataclass(frozen=True)
class ChunkResult:
    next_after: str | None  # the cursor to continue from, None when the edge is finished
    pages: int
    counts: dict[str, int]
    stopped_early: str | None = None  # why the listing ended before Meta's last page


def edge_params(spec: EdgeSpec, since: datetime | None) -> dict[str, Any]:
    params: dict[str, Any] = {"fields": spec.fields}
    if spec.edge == "activities" and since is not None:
        params["since"] = int(since.timestamp())
    if spec.prefix is not None:
        rules: list[dict[str, Any]] = [all_statuses_rule(spec.prefix)]
        if since is not None:
            rules.append(
                {
                    "field": f"{spec.prefix}.updated_time",
                    "operator": "GREATER_THAN",
                    "value": int(since.timestamp()),
                }
            )
        params["filtering"] = rules
    return params


def read_edge_chunk(
    client: GraphClient,
    *,
    tenant_id: str,
    account_id: str,
    currency: str | None,
    edge: str,
    since: datetime | None,
    after: str | None,
    on_page: Callable[[int, dict[str, int]], object],
    run_id: str,
    pages_per_task: int | None = None,
) -> ChunkResult:
    """Read up to ``pages_per_task`` pages of ``edge`` from ``after``, upserting each page.

    Every object written is marked with ``run_id`` (``last_seen_run``): what tombstones compare.
    ``on_page(page_number, counts)`` is called after each page is written (for run statistics).
    """
    spec = EDGES[edge]
    pages_per_task = pages_per_task or PAGES_PER_TASK
    pages = 0
    counts: dict[str, int] = {}
    last_after: str | None = None
    listing = iter_pages(
        client,
        f"act_{account_id}/{edge}",
        edge_params(spec, since),
        account_id=account_id,
        limit=PAGE_SIZE,
        after=after,
        max_pages=pages_per_task,
    )
    for page in listing:
        pages += 1
        now = utcnow()
        rows = [spec.mapper(raw, tenant_id, currency, account_id) for raw in page.items]
        if edge != "activities":  # append-only: no presence to mark
            rows = [{**row, "last_seen_run": run_id} for row in rows]
        if edge in CHANGE_KINDS:
            record_changes(spec.model, CHANGE_KINDS[edge], rows, run_id=run_id, now=now)
        upsert_page(spec.model, rows, now)
        page_counts = {edge: len(rows)}
        if edge == "ads":
            creatives = [
                {
                    **mapping.map_creative(raw["creative"], tenant_id, account_id),
                    "last_seen_run": run_id,
                }
                for raw in page.items
                if isinstance(raw.get("creative"), dict) and raw["creative"].get("id")
            ]
            upsert_page(AdCreative, creatives, now)
            page_counts["adcreatives"] = len(creatives)
        for name, value in page_counts.items():
            counts[name] = counts.get(name, 0) + value
        on_page(pages, page_counts)
        last_after = page.after
    if listing.stopped_early:
        return ChunkResult(None, pages, counts, listing.stopped_early)
    finished = last_after is None or pages < pages_per_task
    return ChunkResult(None if finished else last_after, pages, counts)
