"""The warehouse tables: Fivetran's Facebook Ads schema as its dbt package reads it, and
metasync's own tables for what that schema lacks.

Each table names its key and how rows arrive:

- ``upsert`` (the default): one row per key; a row read again replaces its values only when
  they differ, so a restatement changes exactly the restated rows.
- ``versions``: a row per version seen (``account_history``, ``creative_history``: Meta gives
  these no ``updated_time``). A row is added when the content (``_metasync_version``, a digest
  of the exported columns) differs from the key's latest row; ``_fivetran_synced`` orders them.
- children (``parent`` set): the rows of one parent (an ad's day, a creative) are replaced as a
  set: a re-read parent keeps exactly its new children, unchanged ones untouched.

Column kinds are portable names each destination maps to its own types. Money is ``numeric``
(exact, as the mirror keeps it); Fivetran's budgets are Meta's minor units (``bigint``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

__all__ = ["FIVETRAN_TABLES", "OWN_TABLES", "TABLES", "Column", "Table"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text bigint integer double numeric date timestamp boolean json


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    versions: bool = False
    parent: tuple[str, ...] = ()

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The column names, in order (rows are tuples in this order)."""
        return tuple(c.name for c in self.columns)


def _columns(spec: str) -> tuple[Column, ...]:
    """``"id bigint, name text"`` as columns."""
    return tuple(
        Column(*part.split()) for part in spec.replace("\n", " ").split(",") if part.strip()
    )


SYNCED = "_fivetran_synced timestamp"
MONEY_COLUMNS = """spend numeric, reporting_currency text, fx_rate numeric,
    spend_reporting numeric, reporting_note text"""

ACCOUNT_HISTORY = Table(
    "account_history",
    _columns(f"""id bigint, {SYNCED}, name text, account_status text, business_country_code text,
    created_time timestamp, currency text, timezone_name text, timezone_offset_hours_utc double,
    business_state text, min_daily_budget bigint, business_id text, business_name text,
    amount_spent numeric, disable_reason integer, _metasync_deleted_at timestamp,
    _metasync_version text"""),
    key=("id", "_fivetran_synced"),
    versions=True,
)
CAMPAIGN_HISTORY = Table(
    "campaign_history",
    _columns(f"""id bigint, updated_time timestamp, {SYNCED}, account_id bigint, name text,
    created_time timestamp, start_time timestamp, stop_time timestamp, daily_budget bigint,
    lifetime_budget bigint, budget_remaining double, status text, effective_status text,
    objective text, buying_type text, bid_strategy text, smart_promotion_type text,
    _metasync_deleted_at timestamp, advantage_state text, is_adset_budget_sharing_enabled boolean
    """),
    key=("id", "updated_time"),
)
AD_SET_HISTORY = Table(
    "ad_set_history",
    _columns(f"""id bigint, updated_time timestamp, {SYNCED}, account_id bigint,
    campaign_id bigint, name text, start_time timestamp, end_time timestamp, bid_strategy text,
    daily_budget bigint, lifetime_budget bigint, budget_remaining bigint, status text,
    effective_status text, optimization_goal text, billing_event text, bid_amount bigint,
    _metasync_deleted_at timestamp, advantage_audience integer, placement_soft_opt_out json,
    regional_regulated_categories json"""),
    key=("id", "updated_time"),
)
AD_HISTORY = Table(
    "ad_history",
    _columns(f"""id bigint, updated_time timestamp, {SYNCED}, account_id bigint,
    ad_set_id bigint, campaign_id bigint, creative_id bigint, name text, conversion_domain text,
    status text, effective_status text, _metasync_deleted_at timestamp,
    ad_review_feedback json"""),
    key=("id", "updated_time"),
)
CREATIVE_HISTORY = Table(
    "creative_history",
    _columns(f"""_fivetran_id text, id bigint, {SYNCED}, account_id bigint, name text,
    page_link text, template_page_link text, url_tags json, asset_feed_spec_link_urls json,
    object_story_link_data_child_attachments json, object_story_link_data_caption text,
    object_story_link_data_description text, object_story_link_data_link text,
    object_story_link_data_message text, template_app_link_spec_android json,
    template_app_link_spec_ios json, template_app_link_spec_ipad json,
    template_app_link_spec_iphone json, title text, body text, call_to_action_type text,
    _metasync_deleted_at timestamp, _metasync_version text, instagram_user_id text,
    effective_instagram_media_id text, source_instagram_media_id text,
    degrees_of_freedom_spec json"""),
    key=("id", "_fivetran_synced"),
    versions=True,
)
URL_TAG = Table(
    "url_tag",
    _columns(f"_fivetran_id text, creative_id bigint, key text, value text, type text, {SYNCED}"),
    key=("creative_id", "key"),
    parent=("creative_id",),
)
BASIC_AD = Table(
    "basic_ad",
    _columns(f"""ad_id text, date date, account_id bigint, ad_name text, adset_name text,
    impressions bigint, inline_link_clicks bigint, clicks bigint, reach bigint,
    frequency double, cpc numeric, cpm numeric, ctr double, {MONEY_COLUMNS},
    currency text, {SYNCED}"""),
    key=("ad_id", "date"),
)
_ACTION_COLUMNS = f"""_fivetran_id text, date date, action_type text, index integer,
    value double, inline double, _1_d_view double, _1_d_click double, _7_d_click double,
    _28_d_click double, {SYNCED}"""
BASIC_AD_ACTIONS = Table(
    "basic_ad_actions",
    _columns(f"ad_id text, {_ACTION_COLUMNS}"),
    key=("ad_id", "date", "action_type"),
    parent=("ad_id", "date"),
)
BASIC_AD_ACTION_VALUES = Table(
    "basic_ad_action_values",
    _columns(f"ad_id text, {_ACTION_COLUMNS}, value_reporting double"),
    key=("ad_id", "date", "action_type"),
    parent=("ad_id", "date"),
)


def _demographics(place: str) -> tuple[Table, Table]:
    rows = Table(
        f"demographics_{place}",
        _columns(f"""_fivetran_id text, account_id text, date date, {place} text,
        impressions bigint, inline_link_clicks bigint, reach bigint, frequency double,
        {MONEY_COLUMNS}, cpc numeric, cpm numeric, ctr double,
        cost_per_inline_link_click numeric, inline_link_click_ctr double, {SYNCED}"""),
        key=("account_id", "date", place),
    )
    actions = Table(
        f"demographics_{place}_actions",
        _columns(f"account_id text, {place} text, {_ACTION_COLUMNS}"),
        key=("account_id", "date", place, "action_type"),
        parent=("account_id", "date", place),
    )
    return rows, actions


DEMOGRAPHICS_COUNTRY, DEMOGRAPHICS_COUNTRY_ACTIONS = _demographics("country")
DEMOGRAPHICS_REGION, DEMOGRAPHICS_REGION_ACTIONS = _demographics("region")

# Lead Ads (metasync.export.leads says where the names come from): a page's lead forms, each
# lead with the ad, ad set, campaign and ad account it came from, and its answers, one row per
# question (a re-read lead's answers are replaced as a set; an erased lead's are deleted)
LEAD_FORM = Table(
    "lead_form",
    _columns(f"""id bigint, page_id bigint, name text, status text, locale text,
    created_time timestamp, questions json, {SYNCED}"""),
    key=("id",),
)
LEAD = Table(
    "lead",
    _columns(f"""id bigint, form_id bigint, page_id bigint, ad_id bigint, adset_id bigint,
    campaign_id bigint, account_id bigint, created_time timestamp, is_organic boolean,
    platform text, {SYNCED}"""),
    key=("id",),
)
LEAD_FIELD_DATA = Table(
    "lead_field_data",
    _columns(f"lead_id bigint, name text, index integer, value json, {SYNCED}"),
    key=("lead_id", "name"),
    parent=("lead_id",),
)

FIVETRAN_TABLES = (
    ACCOUNT_HISTORY,
    CAMPAIGN_HISTORY,
    AD_SET_HISTORY,
    AD_HISTORY,
    CREATIVE_HISTORY,
    URL_TAG,
    BASIC_AD,
    BASIC_AD_ACTIONS,
    BASIC_AD_ACTION_VALUES,
    DEMOGRAPHICS_COUNTRY,
    DEMOGRAPHICS_COUNTRY_ACTIONS,
    DEMOGRAPHICS_REGION,
    DEMOGRAPHICS_REGION_ACTIONS,
    LEAD_FORM,
    LEAD,
    LEAD_FIELD_DATA,
)

# metasync's own: every report's rows, the daily rows of every level, and what the optimizer
# and reconciliation recorded
_METRICS = f"""impressions bigint, clicks bigint, inline_link_clicks bigint, reach bigint,
    frequency double, {MONEY_COLUMNS}, conversions numeric, revenue numeric,
    revenue_reporting numeric, currency text, attribution_setting text"""
REPORT_ROWS = Table(
    "metasync_report_rows",
    _columns(f"""report text, account_id text, level text, entity_id text, span text,
    breakdown_key text, attribution_key text, date_start date, date_stop date,
    time_increment text, breakdowns json, campaign_id text, adset_id text, ad_id text,
    {_METRICS}, conversions_by_window json, revenue_by_window json, actions json,
    action_values json, metrics json, fetched_at timestamp"""),
    key=("report", "account_id", "level", "entity_id", "span", "breakdown_key", "attribution_key"),
)
# Meta's video metrics of a daily row, each the sum of its list's values (plays, ThruPlays and
# plays reaching a share of the video; the average time watched in seconds per play)
_VIDEO = """video_play_actions bigint, video_thruplay_watched_actions bigint,
    video_p25_watched_actions bigint, video_p50_watched_actions bigint,
    video_p75_watched_actions bigint, video_p95_watched_actions bigint,
    video_p100_watched_actions bigint, video_avg_time_watched_actions double"""
DAILY_INSIGHTS = Table(
    "metasync_daily_insights",
    _columns(f"""account_id text, level text, entity_id text, date date, campaign_id text,
    adset_id text, ad_id text, {_METRICS}, actions json, action_values json,
    fetched_at timestamp, {_VIDEO}"""),
    key=("account_id", "level", "entity_id", "date"),
)
ACTIVITIES = Table(
    "metasync_activities",
    _columns("""id text, account_id text, event_time timestamp, event_type text,
    translated_event_type text, actor_id text, actor_name text, object_id text,
    object_name text, object_type text, old_value json, new_value json, extra_data text"""),
    key=("id",),
)
RECOMMENDATIONS = Table(
    "metasync_recommendations",
    _columns("""id text, account_id text, level text, entity_id text, rule text, kind text,
    action text, state text, change json, evidence json, expected text,
    proposed_at timestamp, decided_at timestamp, decided_by text, applied_at timestamp,
    error text"""),
    key=("id",),
)
AUDIT = Table(
    "metasync_optimizer_audit",
    _columns("""id text, recommendation_id text, account_id text, level text, entity_id text,
    action text, step integer, state text, field text, old_value text, new_value text,
    read_back text, by text, at timestamp"""),
    key=("id",),
)
RECONCILIATIONS = Table(
    "metasync_reconciliations",
    _columns("""account_id text, date date, status text, ads json, account json,
    differences json, ad_rows bigint, checked_at timestamp"""),
    key=("account_id", "date"),
)
OWN_TABLES = (REPORT_ROWS, DAILY_INSIGHTS, ACTIVITIES, RECOMMENDATIONS, AUDIT, RECONCILIATIONS)
TABLES = {t.name: t for t in (*FIVETRAN_TABLES, *OWN_TABLES)}
