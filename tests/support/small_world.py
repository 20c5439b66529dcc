"""The small sandbox world the report and export tests sync in-process (two accounts a user,
eight ads each), and the settings that keep their runs short."""

from __future__ import annotations

from metasync.sandbox.world import WorldSize

__all__ = ["quick_reports_env", "small_world"]


def small_world(users: int = 1, days: int = 9) -> WorldSize:
    return WorldSize(
        users=users,
        accounts_per_user=2,
        campaigns_per_account=2,
        adsets_per_campaign=2,
        ads_per_adset=2,
        days=days,
    )


def quick_reports_env(sync_env: dict[str, str], days: int = 9) -> dict[str, str]:
    """A first sync reads the world's days; report jobs are polled every second; no budget."""
    return {
        **sync_env,
        "META_INSIGHTS_INITIAL_DAYS": str(days),
        "META_REPORT_POLL_SECONDS": "1",
        "META_RATE_LIMIT_CALLS_PER_HOUR": "100000",
    }
