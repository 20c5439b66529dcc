"""What each account-level edge is: its Graph fields and filter, the collection it mirrors to,
and how one of its objects maps to a document (:mod:`metasync.sync.shapes.mapping`).

Ads are read with their creative's fields nested (``creative{...}``), so creatives come with
the ads at no extra call; the ``adcreatives`` edge is listed only by full reconciliations (to
catch creatives no ad uses and to tombstone).

The library edges (``adimages``, ``advideos``, ``customconversions``, ``customaudiences``) have
no ``updated_time`` filter at Meta, so every sync lists them whole (a page or two per account)
and tombstones what a complete listing no longer returns. ``activities`` is read from ``since``
(unix seconds, Meta's parameter) and only ever appended to. Campaigns and ad sets
(:data:`CHANGE_KINDS`) have their new status, budget and bid values logged before a page is
written (:mod:`metasync.sync.write.changes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mongoengine import Document

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
)
from metasync.sync.shapes import library_mapping, mapping

__all__ = ["CHANGE_KINDS", "EDGES", "LIBRARY_EDGES", "EdgeSpec", "edge_params"]

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


def edge_params(spec: EdgeSpec, since: datetime | None) -> dict[str, Any]:
    """The Graph parameters of a listing of ``spec``'s edge, updated after ``since`` where
    the edge can filter so (every status, deleted and archived included)."""
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
