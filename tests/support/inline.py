"""Performance syncs run in the test's process, with the short waits tests want."""

from __future__ import annotations

import time

from metasync.models import MetaConnection, SyncRun
from metasync.sync import SyncContext, run_inline

__all__ = ["perf", "short_sleep"]


def short_sleep(seconds: float) -> None:
    """Inline runs wait for countdowns; a short real wait keeps polls few and tests fast."""
    time.sleep(min(seconds, 0.05))


def perf(ctx: SyncContext, connection: MetaConnection, **kwargs: object) -> SyncRun:
    """One performance run of ``connection``, to its end; its document."""
    start = run_inline(ctx, str(connection.pk), kind="performance", sleep=short_sleep, **kwargs)  # type: ignore[arg-type]
    return SyncRun.objects.get(pk=start.run_id)
