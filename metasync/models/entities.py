"""The Meta objects mirrored per tenant: ad accounts, campaigns, ad sets, ads and creatives.

Money is ``Decimal128`` in the account's currency (Meta sends budgets and ``amount_spent`` in
minor units; the mapping converts them). Raw nested structures Meta returns (targeting,
``issues_info``, creative specs) are kept as dictionaries beside the summaries derived from them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    IntField,
    ListField,
    StringField,
)

from metasync.models.base import MetaObject, Money

__all__ = ["Ad", "AdAccount", "AdCreative", "AdSet", "Campaign"]


class AdAccount(MetaObject):
    """An ad account. ``meta_id`` is ``act_<id>``; ``account_id`` is the bare number."""

    connection_id = StringField()
    currency = StringField()
    timezone_name = StringField()
    account_status = IntField()
    disable_reason = IntField()
    amount_spent = Money()
    business_id = StringField()
    business_name = StringField()

    meta: ClassVar[dict[str, Any]] = {"collection": "ad_accounts"}


class Campaign(MetaObject):
    objective = StringField()
    buying_type = StringField()
    configured_status = StringField()
    daily_budget = Money()
    lifetime_budget = Money()
    budget_remaining = Money()
    bid_strategy = StringField()
    special_ad_categories = ListField(StringField())
    start_time = DateTimeField()
    stop_time = DateTimeField()
    # legacy Advantage+ shopping / app campaigns (AUTOMATED_SHOPPING_ADS, SMART_APP_PROMOTION)
    # can no longer be updated through the API on any version (2026-05-19)
    smart_promotion_type = StringField()
    # v24: its ad sets share up to 20 % of their daily budgets with each other
    is_adset_budget_sharing_enabled = BooleanField()
    # v23, read-only: which Advantage+ automations are on (advantage_state, budget, audience,
    # placement states)
    advantage_state_info = DictField()

    meta: ClassVar[dict[str, Any]] = {"collection": "campaigns"}


class AdSet(MetaObject):
    campaign_id = StringField()
    configured_status = StringField()
    daily_budget = Money()
    lifetime_budget = Money()
    bid_amount = Money()
    billing_event = StringField()
    optimization_goal = StringField()
    targeting = DictField()
    targeting_summary = DictField()  # ages, genders, locations, interests, placements
    # Meta's learning phase ({status: LEARNING|SUCCESS|FAIL, conversions, last_sig_edit_ts,
    # attribution_windows}); Meta returns it for active ad sets only, so it is empty otherwise
    learning_stage_info = DictField()
    # the unified attribution setting ([{event_type, window_days}]): how long conversions keep
    # arriving for a day, so how long the optimizer waits before a day counts
    attribution_spec = ListField(DictField())
    start_time = DateTimeField()
    end_time = DateTimeField()
    # v24: the placements it lets spend up to 5 % of its budget though excluded
    placement_soft_opt_out = DictField()
    regional_regulated_categories = ListField(StringField())  # e.g. TAIWAN_UNIVERSAL
    # v23: Advantage+ audience ({"advantage_audience": 0|1}), also kept inside ``targeting``
    targeting_automation = DictField()

    meta: ClassVar[dict[str, Any]] = {
        "collection": "ad_sets",
        "indexes": [{"fields": ["tenant_id", "campaign_id"]}],
    }


class Ad(MetaObject):
    """An ad, with its ad set and (denormalized) campaign ids."""

    campaign_id = StringField()
    adset_id = StringField()
    creative_id = StringField()
    configured_status = StringField()
    # why Meta disapproved it: {"global": {policy: reason}, "placement_specific": {...}}
    ad_review_feedback = DictField()

    meta: ClassVar[dict[str, Any]] = {
        "collection": "ads",
        "indexes": [
            {"fields": ["tenant_id", "campaign_id"]},
            {"fields": ["tenant_id", "adset_id"]},
        ],
    }


class AdCreative(MetaObject):
    title = StringField()
    body = StringField()
    image_url = StringField()
    image_hash = StringField()
    video_id = StringField()
    thumbnail_url = StringField()
    call_to_action_type = StringField()
    link_url = StringField()
    url_tags = StringField()
    object_story_id = StringField()  # "<page id>_<post id>" of the post the creative made
    effective_object_story_id = StringField()
    object_story_spec = DictField()
    # Advantage+ and dynamic creatives: lists of titles, bodies, links, images and videos
    asset_feed_spec = DictField()
    # v22+: the Advantage+ creative enhancements it is enrolled in
    degrees_of_freedom_spec = DictField()
    # v22 names (instagram_actor_id, effective_instagram_story_id, instagram_story_id before)
    instagram_user_id = StringField()
    effective_instagram_media_id = StringField()
    source_instagram_media_id = StringField()

    meta: ClassVar[dict[str, Any]] = {"collection": "ad_creatives"}
