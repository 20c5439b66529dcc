"""Finding or starting the real services the tests use.

MongoDB: ``MONGODB_URI`` when set (a real MongoDB runs the same suite), else a SecantusDB server
started on a free port in a temporary folder. Redis: ``REDIS_URL`` when set, else the server
answering on 127.0.0.1:6379, else a ``redis-server`` started on a free port. A service that cannot
be found or started fails the run: nothing is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pymongo
import redis

from metasync.embedded import EmbeddedService, start_mongo, start_redis

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def mongo_answers(uri: str) -> bool:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=3000
    )
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def find_or_start_mongo(workdir: Path) -> tuple[str, EmbeddedService | None]:
    uri = os.environ.get("MONGODB_URI")
    if uri:
        if not mongo_answers(uri):
            raise RuntimeError("MONGODB_URI is set but no MongoDB answers there")
        return uri, None
    service = start_mongo(workdir / "mongo")
    return service.url, service


def find_or_start_redis(workdir: Path) -> tuple[str, EmbeddedService | None]:
    url = os.environ.get("REDIS_URL")
    if url:
        if not redis_answers(url):
            raise RuntimeError("REDIS_URL is set but no Redis answers there")
        return url, None
    if redis_answers(DEFAULT_REDIS):
        return DEFAULT_REDIS, None
    service = start_redis(workdir / "redis")
    return service.url, service
