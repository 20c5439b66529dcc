"""What the sync functions need from the process: settings, Redis, the governor, the cipher.

One :class:`SyncContext` per process (a Celery worker process builds it after fork; the CLI
builds it at start). Nothing here connects at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from metasync.config import Settings
from metasync.crypto import TokenCipher
from metasync.graph import GraphClient, GraphConfig
from metasync.graph.version_warning import VersionWarning, record_version_warning
from metasync.keys import RedisKeys
from metasync.locks import NamedLock
from metasync.models import MetaConnection, utcnow
from metasync.ratelimit import RateGovernor

__all__ = ["SYNC_LOCK_TTL_SECONDS", "SyncContext"]

SYNC_LOCK_TTL_SECONDS = 3600.0  # above the longest countdown a subtask waits (see tasks)


@dataclass
class SyncContext:
    settings: Settings
    redis: redis.Redis
    keys: RedisKeys
    governor: RateGovernor
    cipher: TokenCipher
    graph: GraphConfig

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncContext:
        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = RedisKeys(settings.REDIS_KEY_PREFIX)
        governor = RateGovernor(
            client,
            keys=keys,
            calls_per_hour=settings.META_RATE_LIMIT_CALLS_PER_HOUR,
            warn_ratio=settings.META_RATE_LIMIT_WARN_RATIO,
            slowdown_pct=settings.META_USAGE_SLOWDOWN_PCT,
            tier=settings.META_API_ACCESS_TIER,
        )
        cipher = TokenCipher(
            settings.ENCRYPTION_KEY.get_secret_value(),
            [key.get_secret_value() for key in settings.ENCRYPTION_OLD_KEYS],
        )
        return cls(settings, client, keys, governor, cipher, GraphConfig.from_settings(settings))

    def client_for(self, connection: MetaConnection) -> GraphClient:
        """A governed Graph client with the connection's (decrypted) token; Meta's version
        warnings on its calls are recorded on the connection."""
        connection_id = str(connection.pk)

        def record(warning: VersionWarning) -> None:
            record_version_warning(connection_id, warning, utcnow())

        return GraphClient(
            connection.access_token(self.cipher),
            self.graph,
            governor=self.governor,
            connection_id=connection_id,
            on_version_warning=record,
        )

    def sync_lock(self, connection_id: str, kind: str = "entities") -> NamedLock:
        """The lock that keeps one ``kind`` of sync per connection at a time."""
        return NamedLock(
            self.redis,
            self.keys,
            f"sync:{kind}:{connection_id}",
            ttl_seconds=SYNC_LOCK_TTL_SECONDS,
        )
