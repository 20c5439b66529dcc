"""Schedule slots: one ``schedule_syncs`` per kind per interval, however many beats run."""

from __future__ import annotations

import time

import redis

from metasync.keys import RedisKeys

__all__ = ["claim_schedule_slot"]


def claim_schedule_slot(
    client: redis.Redis, keys: RedisKeys, kind: str, interval_minutes: int, now: float | None = None
) -> bool:
    """True for the first caller in the current slot of ``interval_minutes``; False after.

    A second beat process (started by mistake) sends the same ``schedule_syncs`` in the same
    slot: its call finds the slot taken and enqueues nothing. The key expires with the slot.
    """
    seconds = interval_minutes * 60
    slot = int((now if now is not None else time.time()) // seconds)
    key = f"{keys.prefix}schedule:{kind}:{slot}"
    return bool(client.set(key, "1", nx=True, ex=seconds))
