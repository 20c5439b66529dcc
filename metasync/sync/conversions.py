"""What a tenant counts as a conversion: its own choice, else ``META_CONVERSION_ACTION_TYPES``.

A tenant may count one of its custom conversions (Meta reports its events in ``actions`` as
``offsite_conversion.custom.<id>``) or any list of action types (first found in a row wins).
Workers read the choice once a minute per process (:data:`CACHE_SECONDS`), not once per page:
a change made with ``metasync conversions`` applies to rows written from then on; the rows
already written keep their conversions until the lookback reads them again (the raw ``actions``
are kept, so nothing is lost).
"""

from __future__ import annotations

import time

from metasync.db import database
from metasync.models import CustomConversion, TenantSettings, utcnow
from metasync.sync.context import SyncContext

__all__ = [
    "CACHE_SECONDS",
    "ConversionChoiceError",
    "conversion_types",
    "custom_action_type",
    "set_conversion_types",
    "use_custom_conversion",
]

CACHE_SECONDS = 60.0
# (database, tenant) -> (read at, types): a process may serve several databases (tests do)
_cache: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}


class ConversionChoiceError(ValueError):
    """The tenant's choice names no usable custom conversion or action type."""


def custom_action_type(conversion_id: str) -> str:
    return f"offsite_conversion.custom.{conversion_id}"


def conversion_types(ctx: SyncContext, tenant_id: str) -> tuple[str, ...]:
    """The action types ``tenant_id`` counts as conversions, in the order they are tried."""
    now = time.monotonic()
    key = (database().name, tenant_id)
    cached = _cache.get(key)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    chosen = TenantSettings.objects(tenant_id=tenant_id).only("conversion_action_types").first()
    types = tuple(chosen.conversion_action_types) if chosen else ()
    types = types or tuple(ctx.settings.META_CONVERSION_ACTION_TYPES)
    _cache[key] = (now, types)
    return types


def set_conversion_types(tenant_id: str, types: list[str]) -> list[str]:
    """Store the tenant's action types (empty: back to the service-wide setting)."""
    cleaned = [t.strip() for t in types if t.strip()]
    if any(" " in t or "," in t for t in cleaned):
        raise ConversionChoiceError(f"action types must be single words, got {cleaned}")
    TenantSettings.objects(tenant_id=tenant_id).update_one(
        set__conversion_action_types=cleaned, set__updated_at=utcnow(), upsert=True
    )
    _cache.pop((database().name, tenant_id), None)
    return cleaned


def use_custom_conversion(tenant_id: str, conversion_id: str) -> list[str]:
    """Count the tenant's custom conversion ``conversion_id`` (it must be in the tenant's
    mirror, live and not archived) as its conversions."""
    found = CustomConversion.objects(tenant_id=tenant_id, meta_id=conversion_id).first()
    if found is None:
        raise ConversionChoiceError(
            f"tenant {tenant_id!r} has no custom conversion {conversion_id!r} in its mirror "
            "(run an entity sync first; `metasync conversions list` shows the known ones)"
        )
    if found.deleted_at is not None or found.is_archived:
        raise ConversionChoiceError(
            f"custom conversion {conversion_id} of tenant {tenant_id!r} is archived or deleted"
        )
    return set_conversion_types(tenant_id, [custom_action_type(conversion_id)])
