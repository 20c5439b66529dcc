"""Sync tests use the shared ``world``, ``sync_env``, ``ctx`` and ``connections`` fixtures."""

from __future__ import annotations

from metasync.models import MetaConnection


def tenant_of_account(connections: list[MetaConnection]) -> dict[str, str]:
    return {account: c.tenant_id for c in connections for account in c.ad_account_ids}
