"""Where each tenant exports: its destination URL kept encrypted (it may hold a password),
switched on or off, and the reporting currency the export and the API convert into."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from metasync.config import Settings
from metasync.crypto import TokenCipher
from metasync.export import rebuild
from metasync.export.currency import RatesError, load_rates
from metasync.export.destinations import check, label
from metasync.export.run import ExportResult, export_tenant
from metasync.models import (
    CurrencyRebuild,
    ExportRun,
    ExportTarget,
    FxRate,
    TenantSettings,
    utcnow,
)

__all__ = [
    "destination_url",
    "enabled_target",
    "export_stored",
    "last_runs",
    "set_currency",
    "set_target",
]

log = logging.getLogger(__name__)


def set_target(cipher: TokenCipher, tenant_id: str, url: str, enabled: bool = True) -> ExportTarget:
    """Store ``url`` as the tenant's destination (checked first; encrypted at rest)."""
    check(url)
    target = ExportTarget.objects(tenant_id=tenant_id).first() or ExportTarget(tenant_id=tenant_id)
    target.label = label(url)
    target.set_url(cipher, url)
    target.enabled = enabled
    target.updated_at = utcnow()
    target.save()
    return target


def enabled_target(tenant_id: str) -> ExportTarget | None:
    found: ExportTarget | None = ExportTarget.objects(tenant_id=tenant_id, enabled=True).first()
    return found


def destination_url(cipher: TokenCipher, target: ExportTarget) -> str:
    return target.url(cipher)


def set_currency(tenant_id: str, currency: str | None) -> bool:
    """The tenant's reporting currency (three capital letters), or none with ``None``. Every
    stored day then waits to be exported again in it (:mod:`metasync.export.rebuild`; run by
    :func:`~metasync.export.rebuild.resume` or the next export), unless the currency did not
    change and its days were already sent again for it. Returns whether days wait."""
    if currency is not None and (
        len(currency) != 3 or not currency.isalpha() or not currency.isupper()
    ):
        raise ValueError(f"{currency!r} is not a currency code (three capital letters, e.g. EUR)")
    before = TenantSettings.objects(tenant_id=tenant_id).only("reporting_currency").first()
    TenantSettings.objects(tenant_id=tenant_id).update_one(
        set__reporting_currency=currency, set__updated_at=utcnow(), upsert=True
    )
    previous = before.reporting_currency if before is not None else None
    if previous == currency and CurrencyRebuild.objects(tenant_id=tenant_id).first() is not None:
        return rebuild.pending(tenant_id) is not None
    rebuild.request(
        tenant_id, None, f"reporting currency {previous or 'none'} -> {currency or 'none'}"
    )
    return True


def last_runs(tenant_id: str | None = None, limit: int = 20) -> list[ExportRun]:
    query = ExportRun.objects(tenant_id=tenant_id) if tenant_id else ExportRun.objects
    return list(query.order_by("-started_at").limit(limit))


def export_stored(cipher: TokenCipher, settings: Settings, tenant_id: str) -> ExportResult | None:
    """Export the tenant to its stored destination, as the task after each sync does (None
    when it has none switched on). Rates are fetched first when the tenant converts and the
    newest stored rate is more than four days old; a rates source that fails is logged and
    the export goes on (converted columns stay empty for days without a rate)."""
    target = enabled_target(tenant_id)
    if target is None:
        return None
    tenant = TenantSettings.objects(tenant_id=tenant_id).first()
    if tenant is not None and tenant.reporting_currency:
        recent = (date.today() - timedelta(days=4)).isoformat()
        if not FxRate.objects(date__gte=recent).first():
            try:
                load_rates(settings.FX_RATES_URL)
            except RatesError as exc:
                log.warning("reference rates not loaded: %s", exc)
    result = export_tenant(  # resumes a waiting rebuild and records the gaps itself
        tenant_id,
        destination_url(cipher, target),
        batch_rows=settings.EXPORT_BATCH_ROWS,
        lease_seconds=settings.EXPORT_LEASE_SECONDS,
    )
    return result
