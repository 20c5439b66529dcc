"""The mirrored ad account a subtask works on, read once per subtask by the plan stage and
handed to the others as a value."""

from __future__ import annotations

from metasync.models import AdAccount, MetaConnection

__all__ = ["account_of"]


def account_of(connection: MetaConnection, account_id: str) -> AdAccount | None:
    """The mirrored ad account (its currency and time zone), None before the first sync."""
    account: AdAccount | None = AdAccount.objects(
        tenant_id=connection.tenant_id, meta_id=f"act_{account_id}"
    ).first()
    return account
