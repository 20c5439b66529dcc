"""The ground truth: exactly what a complete sync should leave in MongoDB, in Meta's shapes.

Every object of every account, archived and deleted ones included, and every insights row of
every level over each account's data window.
"""

from __future__ import annotations

from typing import Any

from metasync.sandbox.metrics import level_rows
from metasync.sandbox.world import World

__all__ = ["ground_truth"]


def ground_truth(
    world: World,
    levels: tuple[str, ...] = ("account", "campaign", "adset", "ad"),
) -> dict[str, Any]:
    insights: dict[str, list[dict[str, Any]]] = {level: [] for level in levels}
    for account_id in world.accounts:
        first, last = world.first_data_day(account_id), world.last_data_day(account_id)
        for level in levels:
            insights[level] += level_rows(world, account_id, level, first, last)
    return {
        "seed": world.seed,
        "users": [
            {"id": u.id, "ad_account_ids": list(u.account_ids)} for u in world.users.values()
        ],
        "accounts": list(world.accounts.values()),
        "campaigns": list(world.campaigns.values()),
        "adsets": list(world.adsets.values()),
        "ads": list(world.ads.values()),
        "adcreatives": list(world.creatives.values()),
        "insights": insights,
        "windows": {
            a: [world.first_data_day(a).isoformat(), world.last_data_day(a).isoformat()]
            for a in world.accounts
        },
    }
