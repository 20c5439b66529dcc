"""Re-reading one object's daily rows outside a run (webhooks, CLI): a read and a write with no
run's bookkeeping."""

from __future__ import annotations

from datetime import date

from metasync.graph import insights_params, read_insights
from metasync.models import MetaConnection
from metasync.sync.context import SyncContext
from metasync.sync.mirror import account_of
from metasync.sync.read.insights import INSIGHTS_PAGE_SIZE
from metasync.sync.write.insight_rows import write_rows

__all__ = ["refresh_entity_insights"]


def refresh_entity_insights(
    ctx: SyncContext,
    connection: MetaConnection,
    object_id: str,
    level: str,
    account_id: str,
    since: date,
    until: date,
) -> int:
    """Re-read one campaign's, ad set's or ad's daily rows for a range (webhooks, CLI).

    Returns the rows written. Errors propagate (typed): the caller decides what to record.
    """
    client = ctx.client_for(connection)
    account = account_of(connection, account_id)
    params = insights_params(level=level, since=since.isoformat(), until=until.isoformat())
    written = 0
    for page in read_insights(
        client, object_id, params, account_id=account_id, limit=INSIGHTS_PAGE_SIZE
    ):
        written += write_rows(ctx, connection, account, account_id, level, page.items)
    return written
