"""A rate governor on the test's Redis key prefix."""

from __future__ import annotations

import redis

from metasync.keys import RedisKeys
from metasync.ratelimit import RateGovernor


def governor(client: redis.Redis, prefix: str, **kwargs: object) -> RateGovernor:
    return RateGovernor(client, keys=RedisKeys(prefix), **kwargs)  # type: ignore[arg-type]
