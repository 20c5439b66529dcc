"""The rest of an ad account, mirrored per tenant: image and video libraries, custom conversions,
custom audiences (metadata only, never members), the account's activity log, and metasync's own
change log of campaign and ad set status, budget and bid.

Libraries are ``MetaObject`` documents (unique per tenant and Meta id, tombstoned when a complete
listing no longer returns them). Activities and change records are append-only: each is keyed by
a digest of what it says, so reading the same event twice writes it once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    DynamicField,
    FloatField,
    IntField,
    ListField,
    StringField,
)

from metasync.models.base import BASE_META, MetaObject, NaturalKeyed

__all__ = ["AdActivity", "AdImage", "AdVideo", "ChangeRecord", "CustomAudience", "CustomConversion"]


class AdImage(MetaObject):
    """An image of the account's library. ``meta_id`` is Meta's ``<account id>:<hash>``;
    creatives link to it by ``hash`` (``AdCreative.image_hash``)."""

    hash = StringField()
    url = StringField()  # temporary: Meta rotates it
    url_128 = StringField()
    permalink_url = StringField()
    width = IntField()  # pixels
    height = IntField()
    original_width = IntField()
    original_height = IntField()
    creative_ids = ListField(StringField())

    meta: ClassVar[dict[str, Any]] = {
        "collection": "ad_images",
        "indexes": [{"fields": ["tenant_id", "hash"]}],
    }


class AdVideo(MetaObject):
    """A video of the account's library; creatives link to it by ``video_id``."""

    title = StringField()
    description = StringField()
    length = FloatField()  # seconds
    video_status = StringField()  # Meta's status.video_status: ready, processing, error, ...
    picture = StringField()  # the thumbnail's URL
    permalink_url = StringField()

    meta: ClassVar[dict[str, Any]] = {"collection": "ad_videos"}


class CustomConversion(MetaObject):
    """A custom conversion. Its events appear in insights' actions as
    ``offsite_conversion.custom.<meta_id>``, which a tenant can count as its conversions."""

    description = StringField()
    custom_event_type = StringField()
    rule = StringField()  # Meta's rule, a JSON string, kept as sent
    default_conversion_value = DynamicField()  # as Meta sends it (a number)
    event_source_type = StringField()
    pixel_id = StringField()
    is_archived = BooleanField()
    is_unavailable = BooleanField()
    first_fired_time = DateTimeField()
    last_fired_time = DateTimeField()

    meta: ClassVar[dict[str, Any]] = {"collection": "custom_conversions"}


class CustomAudience(MetaObject):
    """A custom audience's metadata; metasync never reads its members."""

    description = StringField()
    subtype = StringField()
    approximate_count_lower_bound = IntField()
    approximate_count_upper_bound = IntField()
    delivery_status = DictField()  # {code, description}
    operation_status = DictField()
    retention_days = IntField()
    time_content_updated = DateTimeField()

    meta: ClassVar[dict[str, Any]] = {"collection": "custom_audiences"}


class AdActivity(NaturalKeyed, Document):  # type: ignore[misc]
    """One entry of an account's activity log, append-only. ``meta_id`` is a digest of the
    entry (Meta gives activities no id). ``old_value``/``new_value`` come from Meta's
    ``extra_data`` (a JSON string, kept whole in ``extra_data``)."""

    natural_key = ("tenant_id", "meta_id")

    tenant_id = StringField(required=True)
    meta_id = StringField(required=True)
    account_id = StringField(required=True)
    event_time = DateTimeField(required=True)
    event_type = StringField()
    translated_event_type = StringField()
    actor_id = StringField()
    actor_name = StringField()
    application_id = StringField()
    application_name = StringField()
    object_id = StringField()
    object_name = StringField()
    object_type = StringField()
    extra_data = StringField()
    old_value = DynamicField()
    new_value = DynamicField()
    first_seen_at = DateTimeField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "ad_activities",
        "indexes": [
            {"fields": ["tenant_id", "meta_id"], "unique": True},
            {"fields": ["tenant_id", "account_id", "event_time"]},
            {"fields": ["tenant_id", "object_id", "event_time"]},
            {"fields": ["tenant_id", "event_time"]},  # the optimizer's recent changes
            {"fields": ["event_time"]},  # retention
        ],
    }


class ChangeRecord(NaturalKeyed, Document):  # type: ignore[misc]
    """A new value of a campaign's or ad set's status, budget or bid, as a sync first saw it.

    ``seen_at`` is when metasync saw it (the change happened between the previous reading and
    then); ``meta_updated_time`` is the object's ``updated_time`` as Meta reported it. Values
    are strings (money in the account's currency, e.g. ``"75.00"``)."""

    natural_key = ("tenant_id", "change_key")

    tenant_id = StringField(required=True)
    change_key = StringField(required=True)  # digest of object, field, old, new, updated time
    account_id = StringField(required=True)
    object_kind = StringField(required=True)  # campaign | adset
    object_id = StringField(required=True)
    field = StringField(required=True)
    old_value = StringField()
    new_value = StringField()
    meta_updated_time = DateTimeField()
    seen_at = DateTimeField()
    run_id = StringField()
    first_seen_at = DateTimeField()

    meta: ClassVar[dict[str, Any]] = {
        **BASE_META,
        "collection": "change_log",
        "indexes": [
            {"fields": ["tenant_id", "change_key"], "unique": True},
            {"fields": ["tenant_id", "object_id", "seen_at"]},
            {"fields": ["seen_at"]},  # retention
        ],
    }
