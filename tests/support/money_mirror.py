"""A tenant with money to show, for the console's money tests: acme's USD account of
:func:`tests.support.api_mirror.build_tenant` (12.34 a day for 5 days, 2 results a day, and the
same at campaign level) and a JPY account of another connection (12,345 yen a day for 8
days, 3 results a day)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from metasync.health.records import refresh_health
from metasync.models import AdAccount, DailyInsight, MetaConnection
from tests.support.api_mirror import TenantMirror, build_tenant

__all__ = ["JPY_ACCOUNT", "build_money_tenant", "last_days"]

JPY_ACCOUNT = "909"


def last_days(count: int) -> list[str]:
    """The ``count`` days up to yesterday, newest first."""
    yesterday = date.today() - timedelta(days=1)
    return [(yesterday - timedelta(days=back)).isoformat() for back in range(count)]


def build_money_tenant() -> TenantMirror:
    mirror = build_tenant("acme", 1)
    DailyInsight.objects(tenant_id="acme", level="account").update(set__conversions=Decimal(2))
    for day in last_days(5):
        DailyInsight(
            tenant_id="acme",
            account_id=mirror.account_id,
            level="campaign",
            entity_id=mirror.campaign_id,
            date=day,
            spend=Decimal("12.34"),
            conversions=Decimal(2),
            currency="USD",
        ).save()
    MetaConnection(
        tenant_id="acme", meta_user_id="u9", name="acme japan", ad_account_ids=[JPY_ACCOUNT]
    ).save()
    AdAccount(
        tenant_id="acme",
        meta_id=f"act_{JPY_ACCOUNT}",
        account_id=JPY_ACCOUNT,
        name="acme tokyo",
        currency="JPY",
        timezone_name="UTC",
    ).save()
    for day in last_days(8):
        DailyInsight(
            tenant_id="acme",
            account_id=JPY_ACCOUNT,
            level="account",
            entity_id=JPY_ACCOUNT,
            date=day,
            spend=Decimal("12345"),
            conversions=Decimal(3),
            currency="JPY",
        ).save()
    refresh_health("acme")
    return mirror
